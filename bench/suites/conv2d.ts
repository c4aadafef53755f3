// conv2d: every distinct convolution of ResNet-18 at batch 32, for the cifar stem (32×32 input,
// conv1 3×3/1, no max-pool) and the imagenet stem (64×64 input, conv1 7×7/2 pad 3, then a 3×3/2
// max-pool), each timed as forward, dX (conv2dBackwardInput) and dW (conv2dBackwardWeight), with
// GFLOP/s = 2·N·O·Ho·Wo·C·kh·kw / time for all three (the direct convolution's count, also for
// the 3×3 stride-1 passes that run Winograd's algorithm with fewer multiplies: effective
// GFLOP/s). `compare` adds tfjs-webgpu's forward (tf.conv2d on NHWC inputs prepared once) and
// PyTorch CPU's forward, dX and dW (bench/torch_cpu.py: aten's convolution and convolution_backward)
// where python3-torch is installed. One case per stem runs all the convolutions of one ResNet-18
// forward + backward (dX skipped for conv1, whose input needs no gradient), so its time is the conv
// share of a training step. --quick times the forward passes only.
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight, noGrad, randn, type GpuContext, type Tensor } from '../../lib/index';
import type { BenchCase, Prepared, TfModule } from '../harness';

interface Layer {
  name: string;
  c: number;
  o: number;
  k: number;
  s: number;
  p: number;
  /** Input height = width. */
  h: number;
  /** How many times ResNet-18 runs this convolution. */
  count: number;
}

type Pass = 'fwd' | 'dX' | 'dW';

const BATCH = 32;

function resnet18Layers(stem: 'cifar' | 'imagenet'): Layer[] {
  const layers: Layer[] =
    stem === 'cifar'
      ? [{ name: 'conv1', c: 3, o: 64, k: 3, s: 1, p: 1, h: 32, count: 1 }]
      : [{ name: 'conv1', c: 3, o: 64, k: 7, s: 2, p: 3, h: 64, count: 1 }];
  let h = stem === 'cifar' ? 32 : 16; // after the imagenet stem's max-pool
  layers.push({ name: 'layer1', c: 64, o: 64, k: 3, s: 1, p: 1, h, count: 4 });
  let c = 64;
  for (const [i, o] of [128, 256, 512].entries()) {
    const name = `layer${i + 2}`;
    layers.push({ name: `${name}.0.conv1`, c, o, k: 3, s: 2, p: 1, h, count: 1 });
    layers.push({ name: `${name}.0.downsample`, c, o, k: 1, s: 2, p: 0, h, count: 1 });
    h /= 2;
    layers.push({ name, c: o, o, k: 3, s: 1, p: 1, h, count: 3 });
    c = o;
  }
  return layers;
}

function outSize(l: Layer): number {
  return Math.floor((l.h + 2 * l.p - l.k) / l.s) + 1;
}

function flopsOf(l: Layer): number {
  const ho = outSize(l);
  return 2 * BATCH * l.o * ho * ho * l.c * l.k * l.k;
}

interface Operands {
  x: Tensor;
  w: Tensor;
  dy: Tensor;
}

function operands(ctx: GpuContext, l: Layer): Operands {
  const ho = outSize(l);
  return {
    x: randn([BATCH, l.c, l.h, l.h], { ctx }),
    w: randn([l.o, l.c, l.k, l.k], { ctx, std: Math.sqrt(2 / (l.c * l.k * l.k)) }),
    dy: randn([BATCH, l.o, ho, ho], { ctx }),
  };
}

function runPass(pass: Pass, l: Layer, t: Operands): Tensor {
  const options = { stride: l.s, padding: l.p };
  if (pass === 'fwd') return noGrad(() => conv2d(t.x, t.w, null, options));
  if (pass === 'dX') return conv2dBackwardInput(t.dy, t.w, t.x.shape, options);
  return conv2dBackwardWeight(t.dy, t.x, t.w.shape, options);
}

function disposeAll(t: Operands): void {
  t.x.dispose();
  t.w.dispose();
  t.dy.dispose();
}

function shapeLabel(stem: string, l: Layer): string {
  return `${stem} ${l.name} ${l.c}->${l.o} ${l.k}x${l.k}/${l.s} @${l.h}`;
}

function layerCase(stem: string, l: Layer, pass: Pass): BenchCase {
  const c: BenchCase = {
    bench: `conv2d ${pass}`,
    shape: shapeLabel(stem, l),
    flops: flopsOf(l),
    ours(ctx): Prepared {
      const t = operands(ctx, l);
      return { run: () => runPass(pass, l, t), dispose: () => disposeAll(t) };
    },
    torch: `conv2d:${pass}:${BATCH}:${l.c}:${l.h}:${l.o}:${l.k}:${l.s}:${l.p}`,
  };
  if (pass === 'fwd') {
    c.tfjs = (tf: TfModule): Prepared => {
      const x = tf.randomNormal([BATCH, l.h, l.h, l.c]);
      const w = tf.randomNormal([l.k, l.k, l.c, l.o], 0, Math.sqrt(2 / (l.c * l.k * l.k)));
      return {
        run: () => tf.conv2d(x, w, [l.s, l.s], l.p),
        dispose: () => (x.dispose(), w.dispose()),
      };
    };
  }
  return c;
}

/** All convolutions of one ResNet-18 forward + backward at batch 32. */
function networkCase(stem: 'cifar' | 'imagenet'): BenchCase {
  const layers = resnet18Layers(stem);
  const work = layers.flatMap((l) =>
    (['fwd', 'dX', 'dW'] as Pass[]).filter((p) => !(p === 'dX' && l.name === 'conv1')).map((p) => ({ l, p })),
  );
  return {
    bench: 'conv2d fwd+dX+dW',
    shape: `${stem} resnet18 all convs, batch ${BATCH}`,
    flops: work.reduce((sum, { l }) => sum + l.count * flopsOf(l), 0),
    ours(ctx): Prepared {
      const ops = layers.map((l) => operands(ctx, l));
      return {
        run: () => {
          for (const { l, p } of work) {
            const t = ops[layers.indexOf(l)]!;
            for (let i = 0; i < l.count; i++) runPass(p, l, t).dispose();
          }
        },
        dispose: () => ops.forEach(disposeAll),
      };
    },
  };
}

export function cases(options: { quick: boolean }): BenchCase[] {
  const stems: ('cifar' | 'imagenet')[] = ['cifar', 'imagenet'];
  const list: BenchCase[] = [];
  for (const stem of stems) {
    for (const l of resnet18Layers(stem)) {
      for (const pass of ['fwd', 'dX', 'dW'] as Pass[]) {
        if (options.quick && pass !== 'fwd') continue;
        list.push(layerCase(stem, l, pass));
      }
    }
    if (!options.quick) list.push(networkCase(stem));
  }
  return list;
}
