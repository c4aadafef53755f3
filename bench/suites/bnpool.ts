// batchNorm2d and pooling at ResNet-18 shapes (CIFAR stem at batch 64; ImageNet stem layers).
// bytes: what the passes must read and write once. tfjs peers are NHWC (moments + batchNorm,
// maxPool 'same', mean over H and W); backward cases have no tfjs peer.
import { batchNorm2d, full, globalAvgPool2d, maxPool2d, randn, zeros, type GpuContext } from '../../lib/index';
import type { BenchCase, Prepared, TfModule } from '../harness';

const F32 = 4;
const sz = (s: number[]) => s.reduce((a, b) => a * b, 1);

function params(ctx: GpuContext, c: number, grad: boolean) {
  return {
    weight: full([c], 1, { ctx, requiresGrad: grad }),
    bias: zeros([c], { ctx, requiresGrad: grad }),
    runningMean: zeros([c], { ctx }),
    runningVar: full([c], 1, { ctx }),
  };
}

function bnCase(shape: number[], mode: 'train' | 'eval' | 'train fwd+bwd', fused: boolean, groups = 1): BenchCase {
  const [n, c, h, w] = shape as [number, number, number, number];
  const bwd = mode === 'train fwd+bwd';
  const passes = mode === 'eval' ? 2 : 3; // x read (twice in training) + y written
  return {
    bench: `batchNorm2d ${mode}${fused ? ' +res+relu' : ''}${groups > 1 ? ` g${groups}` : ''}`,
    shape: shape.join('x'),
    bytes: (passes + (fused ? 1 : 0) + (bwd ? 6 + (fused ? 3 : 0) : 0)) * sz(shape) * F32,
    ours(ctx): Prepared {
      const x = randn(shape, { ctx, requiresGrad: bwd });
      const res = fused ? randn(shape, { ctx, requiresGrad: bwd }) : null;
      const p = params(ctx, c, bwd);
      const gy = bwd ? randn(shape, { ctx }) : null;
      return {
        run: () => {
          const y = batchNorm2d(x, p, { training: mode !== 'eval', groups, relu: fused, residual: res });
          if (gy) {
            y.backward(gy);
            x.zeroGrad(); res?.zeroGrad(); p.weight.zeroGrad(); p.bias.zeroGrad();
          }
          return y;
        },
        dispose: () => [x, res, gy, ...Object.values(p)].forEach((t) => t?.dispose()),
      };
    },
    ...(bwd
      ? {}
      : {
          tfjs(tf: TfModule): Prepared {
            const x = tf.randomNormal([n, h, w, c]);
            const res = fused ? tf.randomNormal([n, h, w, c]) : null;
            const scale = tf.ones([c]);
            const offset = tf.zeros([c]);
            const rm = tf.zeros([c]);
            const rv = tf.ones([c]);
            return {
              run: () =>
                tf.tidy(() => {
                  let y;
                  if (mode === 'eval') y = tf.batchNorm(x, rm, rv, offset, scale, 1e-5);
                  else {
                    const m = tf.moments(x, [0, 1, 2]);
                    y = tf.batchNorm(x, m.mean, m.variance, offset, scale, 1e-5);
                  }
                  if (res) y = tf.relu(tf.add(y, res));
                  return y;
                }),
              dispose: () => [x, res, scale, offset, rm, rv].forEach((t) => t?.dispose()),
            };
          },
        }),
  };
}

function maxPoolCase(shape: number[], bwd: boolean): BenchCase {
  const [n, c, h, w] = shape as [number, number, number, number];
  const outSize = n * c * Math.floor((h - 1) / 2 + 1) * Math.floor((w - 1) / 2 + 1);
  return {
    bench: `maxPool2d 3x3/2/1${bwd ? ' fwd+bwd' : ''}`,
    shape: shape.join('x'),
    bytes: (sz(shape) + 2 * outSize + (bwd ? sz(shape) + 2 * outSize : 0)) * F32,
    ours(ctx): Prepared {
      const x = randn(shape, { ctx, requiresGrad: bwd });
      return {
        run: () => {
          const y = maxPool2d(x, { kernel: 3, stride: 2, padding: 1 });
          if (bwd) {
            const gy = full(y.shape, 1, { ctx });
            y.backward(gy);
            x.zeroGrad();
          }
          return y;
        },
        dispose: () => x.dispose(),
      };
    },
    ...(bwd
      ? {}
      : {
          tfjs(tf: TfModule): Prepared {
            const x = tf.randomNormal([n, h, w, c]);
            return { run: () => tf.maxPool(x, 3, 2, 'same'), dispose: () => x.dispose() };
          },
        }),
  };
}

function gapCase(shape: number[], bwd: boolean): BenchCase {
  const [n, c, h, w] = shape as [number, number, number, number];
  return {
    bench: `globalAvgPool2d${bwd ? ' fwd+bwd' : ''}`,
    shape: shape.join('x'),
    bytes: (bwd ? 2 : 1) * sz(shape) * F32,
    ours(ctx): Prepared {
      const x = randn(shape, { ctx, requiresGrad: bwd });
      return {
        run: () => {
          const y = globalAvgPool2d(x);
          if (bwd) {
            const gy = full(y.shape, 1, { ctx });
            y.backward(gy);
            x.zeroGrad();
          }
          return y;
        },
        dispose: () => x.dispose(),
      };
    },
    ...(bwd ? {} : { tfjs(tf: TfModule): Prepared { const x = tf.randomNormal([n, h, w, c]); return { run: () => tf.mean(x, [1, 2]), dispose: () => x.dispose() }; } }),
  };
}

export function cases({ quick }: { quick: boolean } = { quick: false }): BenchCase[] {
  const first = [64, 64, 32, 32];
  // --quick: the first case of each kind (batchNorm2d train, maxPool2d, globalAvgPool2d), forward only.
  if (quick) return [bnCase(first, 'train', false), maxPoolCase([16, 64, 112, 112], false), gapCase([64, 512, 7, 7], false)];
  const out: BenchCase[] = [];
  for (const s of [first, [64, 128, 16, 16], [64, 256, 8, 8], [64, 512, 4, 4], [16, 64, 56, 56], [64, 512, 7, 7]]) {
    out.push(bnCase(s, 'train', false));
  }
  out.push(bnCase(first, 'train', true));
  out.push(bnCase(first, 'train', false, 8));
  out.push(bnCase(first, 'eval', false));
  out.push(bnCase([64, 512, 7, 7], 'eval', false));
  out.push(bnCase(first, 'train fwd+bwd', false));
  out.push(bnCase(first, 'train fwd+bwd', true));
  out.push(bnCase([64, 512, 7, 7], 'train fwd+bwd', true));
  out.push(maxPoolCase([16, 64, 112, 112], false));
  out.push(maxPoolCase([16, 64, 112, 112], true));
  out.push(gapCase([64, 512, 7, 7], false));
  out.push(gapCase([64, 512, 4, 4], false));
  out.push(gapCase([64, 512, 7, 7], true));
  return out;
}
