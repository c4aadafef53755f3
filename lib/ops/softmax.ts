// Softmax, log-softmax (over the last axis; leading axes are a batch of rows) and the fused
// cross-entropy loss, with their gradients. Softmax and log-softmax are a row reduction and a
// write pass each way (kernels/softmax.ts); cross-entropy is one fused reduction plus a sum for
// the mean forward, and one write pass backward (kernels/cross-entropy.ts).
import { crossEntropyBackwardKernel, crossEntropyForwardKernel } from '../../kernels/cross-entropy';
import { isNarrow } from '../../kernels/row-map';
import { rowConfig } from '../../kernels/rows';
import {
  logSumExpKernel,
  softmaxBackwardKernel,
  softmaxBackwardSumKernel,
  softmaxForwardKernel,
  type SoftmaxKind,
} from '../../kernels/softmax';
import { record } from '../autograd';
import { emptyTensor, Tensor } from '../tensor';
import { fromArray } from './creation';
import { reduceKeepdim } from './reduce';
import { checkInputs, fmt, memoKernel, rangeOf } from './util';

/** Integer class labels: a tensor of class indices, or an array of them. */
export type Labels = Tensor | Int32Array | readonly number[];

/** Labels travel to the GPU as float32, exact below 2^24; the backward needs 2·C + 4 below that too. */
const MAX_CLASSES = 2 ** 23;

const lseK = memoKernel(logSumExpKernel);
const forwardK = memoKernel(softmaxForwardKernel);
const backwardSumK = memoKernel(softmaxBackwardSumKernel);
const backwardK = memoKernel(softmaxBackwardKernel);
const ceForwardK = memoKernel(crossEntropyForwardKernel);
const ceBackwardK = memoKernel(crossEntropyBackwardKernel);

/** The [rows, cols] view of x over its last axis; throws naming `op` for a scalar. */
export function rowShape(op: string, x: Tensor): { rows: number; cols: number } {
  if (x.rank === 0) throw new Error(`${op}: expected a tensor with at least one axis (the last is reduced), got shape []`);
  const cols = x.shape[x.rank - 1]!;
  const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return { rows, cols };
}

function rowForward(kind: SoftmaxKind, x: Tensor): Tensor {
  const ctx = checkInputs(kind, x);
  const { rows, cols } = rowShape(kind, x);
  const y = emptyTensor(ctx, x.shape);
  if (y.size > 0) {
    const config = rowConfig(ctx.subgroupSize);
    const u = { rows, cols };
    const lse = emptyTensor(ctx, [rows]);
    ctx.run(lseK(config), [rangeOf(x), rangeOf(lse)], u);
    ctx.run(forwardK(kind, config, isNarrow(cols)), [rangeOf(x), rangeOf(lse), rangeOf(y)], u);
    lse.dispose();
  }
  return record(kind, y, [x], (g, [sy]) => [rowBackward(kind, sy!, g)], [y]);
}

/** dx of softmax / log-softmax from the forward output y and the gradient g (no tracking). */
function rowBackward(kind: SoftmaxKind, y: Tensor, g: Tensor): Tensor {
  const ctx = checkInputs(`${kind} backward`, y, g);
  const { rows, cols } = rowShape(kind, y);
  const dx = emptyTensor(ctx, y.shape);
  if (dx.size > 0) {
    const config = rowConfig(ctx.subgroupSize);
    const u = { rows, cols };
    const t = emptyTensor(ctx, [rows]);
    const sumInputs = kind === 'softmax' ? [rangeOf(y), rangeOf(g)] : [rangeOf(g)];
    ctx.run(backwardSumK(kind, config), [...sumInputs, rangeOf(t)], u);
    ctx.run(backwardK(kind, config, isNarrow(cols)), [rangeOf(y), rangeOf(g), rangeOf(t), rangeOf(dx)], u);
    t.dispose();
  }
  return dx;
}

/** softmax over the last axis: exp(x − max) / Σ exp(x − max). */
export function softmax(x: Tensor): Tensor {
  return rowForward('softmax', x);
}

/** log-softmax over the last axis: x − max − log Σ exp(x − max). */
export function logSoftmax(x: Tensor): Tensor {
  return rowForward('logSoftmax', x);
}

/** Checks labels against logits [n, c] and returns them as a float tensor of shape [n] (a new handle). */
function labelTensor(logits: Tensor, labels: Labels, n: number, c: number): Tensor {
  if (labels instanceof Tensor) {
    checkInputs('crossEntropy', logits, labels);
    if (labels.rank !== 1 || labels.shape[0] !== n) {
      throw new Error(`crossEntropy: labels of shape ${fmt(labels.shape)} for logits of shape ${fmt(logits.shape)}; expected [${n}]`);
    }
    return labels.handle();
  }
  if (!(labels instanceof Int32Array) && !Array.isArray(labels)) {
    throw new Error(`crossEntropy: labels must be a Tensor, an Int32Array or an array of numbers, got ${String(labels)}`);
  }
  if (labels.length !== n) {
    throw new Error(`crossEntropy: ${labels.length} labels for logits of shape ${fmt(logits.shape)}; expected ${n}`);
  }
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const l = labels[i]!;
    if (typeof l !== 'number' || !Number.isInteger(l) || l < 0 || l >= c) {
      throw new Error(
        `crossEntropy: label ${String(l)} at row ${i} is not a class of logits of shape ${fmt(logits.shape)}; expected an integer in [0, ${c})`,
      );
    }
    data[i] = l;
  }
  return fromArray(data, [n], { ctx: logits.ctx });
}

/**
 * Mean over rows of −log softmax(logits)[row, label]: logits [N, C], labels of N class indices.
 * A label tensor with an invalid entry (out of range, fractional) gives a NaN loss and NaN
 * gradients for that row (the GPU cannot throw; see kernels/cross-entropy.ts).
 */
export function crossEntropy(logits: Tensor, labels: Labels): Tensor {
  const ctx = checkInputs('crossEntropy', logits);
  if (logits.rank !== 2 || logits.shape[0] === 0 || logits.shape[1] === 0) {
    throw new Error(`crossEntropy: logits of shape ${fmt(logits.shape)}; expected [N, C] with N ≥ 1 and C ≥ 1`);
  }
  const [n, c] = logits.shape as [number, number];
  if (c > MAX_CLASSES) {
    throw new Error(`crossEntropy: logits of shape ${fmt(logits.shape)} have more than ${MAX_CLASSES} classes (labels travel as exact floats)`);
  }
  const labelT = labelTensor(logits, labels, n, c);
  const config = rowConfig(ctx.subgroupSize);
  const rowLoss = emptyTensor(ctx, [n]);
  const lse = emptyTensor(ctx, [n]);
  ctx.run(ceForwardK(config), [rangeOf(logits), rangeOf(labelT), rangeOf(rowLoss), rangeOf(lse)], { rows: n, cols: c });
  const kept = reduceKeepdim('sum', rowLoss, [0], 1 / n);
  rowLoss.dispose();
  const loss = kept.handle([]);
  kept.dispose();
  const out = record(
    'crossEntropy',
    loss,
    [logits],
    (g, [sx, sl, slse]) => {
      const dctx = checkInputs('crossEntropy backward', sx!, g);
      const dx = emptyTensor(dctx, sx!.shape);
      const spec = ceBackwardK(rowConfig(dctx.subgroupSize), isNarrow(c));
      dctx.run(spec, [rangeOf(sx!), rangeOf(sl!), rangeOf(slse!), rangeOf(g), rangeOf(dx)], { rows: n, cols: c, scale: 1 / n });
      return [dx];
    },
    [logits, labelT, lse],
  );
  labelT.dispose();
  lse.dispose();
  return out;
}
