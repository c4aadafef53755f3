// Row kernels: softmax and log-softmax (the 256×8193 target shape, and MoCo's 65,537-wide
// rows), fused cross-entropy forward and forward+backward at MoCo's logits shape, and row L2
// normalisation. `bytes` counts what the kernels must read and write once (inputs + outputs).
import {
  crossEntropy,
  l2Normalize,
  logSoftmax,
  randn,
  softmax,
  type GpuContext,
  type Tensor,
} from '../../lib/index';
import type { BenchCase, Prepared, TfModule } from '../harness';

const F32 = 4;

function ourInput(ctx: GpuContext, rows: number, cols: number, std: number, requiresGrad = false): Tensor {
  return randn([rows, cols], { ctx, std, requiresGrad });
}

function rowCase(name: 'softmax' | 'logSoftmax', rows: number, cols: number): BenchCase {
  const op = name === 'softmax' ? softmax : logSoftmax;
  return {
    bench: name,
    shape: `${rows}x${cols}`,
    bytes: 2 * rows * cols * F32,
    ours(ctx): Prepared {
      const x = ourInput(ctx, rows, cols, 4);
      return { run: () => op(x), dispose: () => x.dispose() };
    },
    tfjs(tf: TfModule): Prepared {
      const x = tf.randomNormal([rows, cols], 0, 4);
      return { run: () => (name === 'softmax' ? tf.softmax(x) : tf.logSoftmax(x)), dispose: () => x.dispose() };
    },
  };
}

function labelsFor(rows: number, cols: number): Int32Array {
  return Int32Array.from({ length: rows }, (_, i) => (i * 7919) % cols);
}

function tfOneHot(tf: TfModule, rows: number, cols: number): unknown {
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labelsFor(rows, cols), 'int32'), cols), 'float32'));
}

/** MoCo's InfoNCE loss: logits [N, 1 + K] (temperature 0.07 makes them ~±20). */
function crossEntropyCase(rows: number, cols: number, withBackward: boolean): BenchCase {
  return {
    bench: withBackward ? 'crossEntropy fwd+bwd' : 'crossEntropy fwd',
    shape: `${rows}x${cols}`,
    bytes: (withBackward ? 3 : 1) * rows * cols * F32,
    ours(ctx): Prepared {
      const x = ourInput(ctx, rows, cols, 7, withBackward);
      const labels = labelsFor(rows, cols);
      return {
        run: () => {
          const loss = crossEntropy(x, labels);
          if (withBackward) {
            loss.backward();
            x.zeroGrad();
          }
          return loss;
        },
        dispose: () => x.dispose(),
      };
    },
    // tf.losses.softmaxCrossEntropy took ~3 s here, so the peer is the same math composed from
    // tf.logSoftmax; without tfjs's gradient registry (not loaded) only the forward is compared.
    ...(withBackward
      ? {}
      : {
          tfjs(tf: TfModule): Prepared {
            const x = tf.randomNormal([rows, cols], 0, 7);
            const onehot = tfOneHot(tf, rows, cols) as { dispose(): void };
            return {
              run: () => tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(x)), -1)))),
              dispose: () => (x.dispose(), onehot.dispose()),
            };
          },
        }),
  };
}

function normalizeCase(rows: number, cols: number): BenchCase {
  return {
    bench: 'l2Normalize',
    shape: `${rows}x${cols}`,
    bytes: 2 * rows * cols * F32,
    ours(ctx): Prepared {
      const x = ourInput(ctx, rows, cols, 1);
      return { run: () => l2Normalize(x), dispose: () => x.dispose() };
    },
    tfjs(tf: TfModule): Prepared {
      const x = tf.randomNormal([rows, cols]);
      return {
        run: () => tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 'euclidean', -1, true), 1e-12))),
        dispose: () => x.dispose(),
      };
    },
  };
}

export function cases(options: { quick: boolean } = { quick: false }): BenchCase[] {
  const list = [
    rowCase('softmax', 256, 8193),
    rowCase('logSoftmax', 256, 8193),
    rowCase('softmax', 256, 8192),
    rowCase('softmax', 64, 65537),
    rowCase('logSoftmax', 64, 65537),
    crossEntropyCase(256, 65537, false),
    crossEntropyCase(256, 65537, true),
    normalizeCase(256, 128),
    normalizeCase(8192, 1024),
  ];
  return options.quick ? list.slice(0, 2) : list;
}
