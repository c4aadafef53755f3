// Shape ops. reshape shares storage (tensors are always contiguous); permute/transpose and
// broadcastTo run the strided copy kernel; slice and concat move blocks along one axis.
import { blockCopyKernel, gatherRowsKernel, segmentSumRowsKernel, stridedCopyKernel } from '../../kernels/copy';
import { MAX_RANK } from '../../kernels/elementwise';
import { record } from '../autograd';
import { checkShape, emptyTensor, shapeSize, type Tensor } from '../tensor';
import { fromBytes, zeros } from './creation';
import { checkInputs, collapseAxes, fmt, memoKernel, normalizeAxis, padList, rangeOf, stridesOf } from './util';
import { unbroadcast } from './elementwise';

const stridedK = memoKernel(stridedCopyKernel);
const blockK = memoKernel(blockCopyKernel);
const gatherK = memoKernel(gatherRowsKernel);
const segmentK = memoKernel(segmentSumRowsKernel);

/** Same data, new shape; one axis may be -1 (inferred). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  checkInputs('reshape', x);
  const target = [...shape];
  const infer = target.indexOf(-1);
  if (infer >= 0) {
    const rest = shapeSize(target.filter((_, i) => i !== infer));
    if (target.indexOf(-1, infer + 1) >= 0 || rest === 0 || x.size % rest !== 0) {
      throw new Error(`reshape: cannot infer -1 in ${fmt(shape)} for a tensor of shape ${fmt(x.shape)}`);
    }
    target[infer] = x.size / rest;
  }
  checkShape('reshape', target);
  if (shapeSize(target) !== x.size) {
    throw new Error(`reshape: shape ${fmt(shape)} has ${shapeSize(target)} elements, the tensor ${fmt(x.shape)} has ${x.size}`);
  }
  const out = x.handle(target);
  return record('reshape', out, [x], (g) => [g.handle(x.shape)]);
}

/** Merges the axes from `startAxis` on into one. */
export function flatten(x: Tensor, startAxis = 0): Tensor {
  const start = normalizeAxis('flatten', startAxis, x.rank);
  return reshape(x, [...x.shape.slice(0, start), shapeSize(x.shape.slice(start))]);
}

/** Copies x read through `strides` (with `base` offset) into a new contiguous tensor of `shape`. */
function stridedCopy(op: string, x: Tensor, shape: number[], strides: number[], base = 0): Tensor {
  const ctx = checkInputs(op, x);
  const out = emptyTensor(ctx, shape);
  if (out.size === 0) return out;
  const merged = collapseAxes(shape, [strides, stridesOf(shape)]);
  if (merged.shape.length > MAX_RANK) throw new Error(`${op}: rank ${merged.shape.length} is over the limit of ${MAX_RANK}`);
  ctx.run(stridedK(), [rangeOf(x), rangeOf(out)], {
    n: out.size,
    rank: merged.shape.length,
    base,
    shape: padList(merged.shape, MAX_RANK, 1),
    strides: padList(merged.strides[0]!, MAX_RANK),
  });
  return out;
}

export function permute(x: Tensor, axes: readonly number[]): Tensor {
  checkInputs('permute', x);
  const perm = axes.map((a) => normalizeAxis('permute', a, x.rank));
  if (perm.length !== x.rank || new Set(perm).size !== x.rank) {
    throw new Error(`permute: axes [${axes}] are not a permutation of the ${x.rank} axes of ${fmt(x.shape)}`);
  }
  const strides = stridesOf(x.shape);
  const out = stridedCopy('permute', x, perm.map((a) => x.shape[a]!), perm.map((a) => strides[a]!));
  const inverse = new Array<number>(perm.length);
  perm.forEach((a, i) => (inverse[a] = i));
  return record('permute', out, [x], (g) => [permute(g, inverse)]);
}

export function transpose(x: Tensor, axis0 = -2, axis1 = -1): Tensor {
  checkInputs('transpose', x);
  if (x.rank < 2) throw new Error(`transpose: needs a tensor of rank 2 or more, got ${fmt(x.shape)}`);
  const a = normalizeAxis('transpose', axis0, x.rank);
  const b = normalizeAxis('transpose', axis1, x.rank);
  const perm = [...x.shape.keys()];
  perm[a] = b;
  perm[b] = a;
  return permute(x, perm);
}

/** Repeats x along broadcast axes to `shape` (NumPy rules). */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  checkInputs('broadcastTo', x);
  checkShape('broadcastTo', shape);
  const lead = shape.length - x.rank;
  const own = stridesOf(x.shape);
  const strides = shape.map((d, i) => {
    const k = i - lead;
    if (k < 0) return 0;
    const size = x.shape[k]!;
    if (size !== d && size !== 1) throw new Error(`broadcastTo: cannot broadcast ${fmt(x.shape)} to ${fmt(shape)}`);
    return size === 1 ? 0 : own[k]!;
  });
  if (lead < 0) throw new Error(`broadcastTo: cannot broadcast ${fmt(x.shape)} to the lower rank ${fmt(shape)}`);
  const out = stridedCopy('broadcastTo', x, [...shape], strides);
  return record('broadcastTo', out, [x], (g) => [unbroadcast(g, x.shape)]);
}

/** Elements [start, end) along `axis` (end is clamped like Python's slices; negatives count from the end). */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  checkInputs('slice', x);
  const a = normalizeAxis('slice', axis, x.rank);
  const size = x.shape[a]!;
  if (!Number.isInteger(start) || !Number.isInteger(end)) throw new Error(`slice: start and end must be integers, got ${start}, ${end}`);
  const s = Math.min(size, Math.max(0, start < 0 ? start + size : start));
  const e = Math.min(size, Math.max(s, end < 0 ? end + size : end));
  const shape = [...x.shape];
  shape[a] = e - s;
  const ctx = x.ctx;
  const out = emptyTensor(ctx, shape);
  const inner = shapeSize(x.shape.slice(a + 1));
  copyBlock(x, out, shapeSize(x.shape.slice(0, a)), e - s, inner, size, s, e - s, 0);
  return record('slice', out, [x], (g) => {
    const gx = zeros(x.shape, { ctx });
    copyBlock(g, gx, shapeSize(x.shape.slice(0, a)), e - s, inner, e - s, 0, size, s);
    return [gx];
  });
}

function copyBlock(
  src: Tensor,
  dst: Tensor,
  outer: number,
  len: number,
  inner: number,
  srcAxis: number,
  srcStart: number,
  dstAxis: number,
  dstStart: number,
): void {
  const n = outer * len * inner;
  if (n === 0) return;
  src.ctx.run(blockK(), [rangeOf(src), rangeOf(dst)], { n, len, inner, srcAxis, srcStart, dstAxis, dstStart });
}

/** Joins tensors along `axis`; all other sizes must match. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new Error('concat: needs at least one tensor');
  const ctx = checkInputs('concat', ...tensors);
  const first = tensors[0]!;
  const a = normalizeAxis('concat', axis, first.rank);
  for (const t of tensors) {
    const same = t.rank === first.rank && t.shape.every((d: number, i: number) => i === a || d === first.shape[i]);
    if (!same) {
      throw new Error(`concat: shapes ${tensors.map((x) => fmt(x.shape)).join(', ')} differ outside axis ${a}`);
    }
  }
  const total = tensors.reduce((s, t) => s + t.shape[a]!, 0);
  const shape = [...first.shape];
  shape[a] = total;
  const out = emptyTensor(ctx, shape);
  const outer = shapeSize(first.shape.slice(0, a));
  const inner = shapeSize(first.shape.slice(a + 1));
  const starts: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    starts.push(offset);
    copyBlock(t, out, outer, t.shape[a]!, inner, t.shape[a]!, 0, total, offset);
    offset += t.shape[a]!;
  }
  return record('concat', out, [...tensors], (g) =>
    tensors.map((t, i) => (t.requiresGrad ? slice(g, a, starts[i]!, starts[i]! + t.shape[a]!) : null)),
  );
}

/**
 * Rows of x (along axis 0) picked by `indices` (CPU integers in [0, x.shape[0]); repeats allowed):
 * out[r] = x[indices[r]]. The gradient adds each output row back into the row it came from.
 */
export function gatherRows(x: Tensor, indices: ArrayLike<number>): Tensor {
  const ctx = checkInputs('gatherRows', x);
  if (x.rank < 1) throw new Error('gatherRows: needs a tensor of rank 1 or more');
  const n = x.shape[0]!;
  const index = Uint32Array.from(indices, (v, r) => {
    if (!Number.isInteger(v) || v < 0 || v >= n) {
      throw new Error(`gatherRows: index ${v} at position ${r} is outside [0, ${n}) for a tensor of shape ${fmt(x.shape)}`);
    }
    return v;
  });
  const cols = shapeSize(x.shape.slice(1));
  const out = emptyTensor(ctx, [index.length, ...x.shape.slice(1)]);
  const indexT = fromBytes(index, { ctx });
  ctx.run(gatherK(), [rangeOf(x), rangeOf(indexT), rangeOf(out)], { rows: index.length, cols });
  indexT.dispose();
  return record('gatherRows', out, [x], (g) => {
    // CSR of the inverse map: for each source row, the output rows that read it.
    const start = new Uint32Array(n + 1);
    for (const v of index) start[v + 1]!++;
    for (let r = 0; r < n; r++) start[r + 1]! += start[r]!;
    const fill = start.slice(0, n);
    const order = new Uint32Array(Math.max(1, index.length));
    index.forEach((v, r) => (order[fill[v]!++] = r));
    const gx = emptyTensor(ctx, x.shape);
    const startT = fromBytes(start, { ctx });
    const orderT = fromBytes(order, { ctx });
    ctx.run(segmentK(), [rangeOf(g), rangeOf(startT), rangeOf(orderT), rangeOf(gx)], { rows: n, cols });
    startT.dispose();
    orderT.dispose();
    return [gx];
  });
}
