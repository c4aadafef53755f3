// CPU reference (float64) of softmax, log-softmax and cross-entropy over the last axis, and their
// analytic gradients, computed from the input x (not from a float32 forward output).
import type { RefArray } from './array';

/** The [rows, cols] split of a shape over its last axis. */
export function refRows(shape: readonly number[]): { rows: number; cols: number } {
  if (shape.length === 0) throw new Error('cpu: row ops need at least one axis');
  const cols = shape[shape.length - 1]!;
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return { rows, cols };
}

/** log Σ exp(x[base .. base + cols)) computed stably. */
function logSumExp(x: Float64Array, base: number, cols: number): number {
  let m = -Infinity;
  for (let j = 0; j < cols; j++) m = Math.max(m, x[base + j]!);
  let s = 0;
  for (let j = 0; j < cols; j++) s += Math.exp(x[base + j]! - m);
  return m + Math.log(s);
}

export function refLogSoftmax(x: RefArray): RefArray {
  const { rows, cols } = refRows(x.shape);
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const lse = logSumExp(x.data, base, cols);
    for (let j = 0; j < cols; j++) out[base + j] = x.data[base + j]! - lse;
  }
  return { data: out, shape: [...x.shape] };
}

export function refSoftmax(x: RefArray): RefArray {
  const ls = refLogSoftmax(x);
  return { data: ls.data.map(Math.exp), shape: ls.shape };
}

/** dx = y·(g − Σ g·y) with y = softmax(x). */
export function refSoftmaxBackward(x: RefArray, g: RefArray): RefArray {
  const y = refSoftmax(x).data;
  const { rows, cols } = refRows(x.shape);
  const dx = new Float64Array(y.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += g.data[base + j]! * y[base + j]!;
    for (let j = 0; j < cols; j++) dx[base + j] = y[base + j]! * (g.data[base + j]! - dot);
  }
  return { data: dx, shape: [...x.shape] };
}

/** dx = g − softmax(x)·Σ g. */
export function refLogSoftmaxBackward(x: RefArray, g: RefArray): RefArray {
  const p = refSoftmax(x).data;
  const { rows, cols } = refRows(x.shape);
  const dx = new Float64Array(p.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += g.data[base + j]!;
    for (let j = 0; j < cols; j++) dx[base + j] = g.data[base + j]! - p[base + j]! * sum;
  }
  return { data: dx, shape: [...x.shape] };
}

/** Mean over rows of logsumexp(row) − row[label]; logits [N, C]. Shape []. */
export function refCrossEntropy(logits: RefArray, labels: ArrayLike<number>): RefArray {
  const [n, c] = logits.shape as [number, number];
  let total = 0;
  for (let r = 0; r < n; r++) total += logSumExp(logits.data, r * c, c) - logits.data[r * c + labels[r]!]!;
  return { data: Float64Array.of(total / n), shape: [] };
}

/** dx = (softmax(logits) − onehot(labels))·g / N. */
export function refCrossEntropyBackward(logits: RefArray, labels: ArrayLike<number>, g = 1): RefArray {
  const [n, c] = logits.shape as [number, number];
  const p = refSoftmax(logits).data;
  const dx = new Float64Array(p.length);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < c; j++) dx[r * c + j] = ((p[r * c + j]! - (j === labels[r] ? 1 : 0)) * g) / n;
  }
  return { data: dx, shape: [...logits.shape] };
}
