// Reductions over one or more axes (sum, mean, max), with keepdim, and their gradients.
// Axes are grouped into runs of neighbouring axes; each run is one kernel launch over a contiguous
// [outer, R, inner] view (long rows with inner = 1 take one workgroup per row, anything else one
// invocation per output).
import { reduceColumnsKernel, reduceRowsKernel, type ReduceOp } from '../../kernels/reduce';
import { record } from '../autograd';
import { emptyTensor, shapeSize, type Tensor } from '../tensor';
import { mapBinary } from './elementwise';
import { broadcastTo } from './shape';
import { checkInputs, memoKernel, normalizeAxis, rangeOf } from './util';

const rowsK = memoKernel(reduceRowsKernel);
const columnsK = memoKernel(reduceColumnsKernel);

/** Sorted, distinct, non-negative axes; all axes when `axes` is undefined. */
export function resolveAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === 'number' ? [axes] : [...axes];
  const resolved = [...new Set(list.map((a) => normalizeAxis(op, a, rank)))].sort((a, b) => a - b);
  if (resolved.length !== list.length) throw new Error(`${op}: axis listed twice in [${list}]`);
  return resolved;
}

/** Reduces x over `axes` keeping them as size-1 axes. No gradient tracking. */
export function reduceKeepdim(op: ReduceOp, x: Tensor, axes: number[], scale = 1): Tensor {
  const ctx = checkInputs(op, x);
  // Split into runs of neighbouring axes, reduced from the last run to the first.
  const runs: [number, number][] = [];
  for (const a of axes) {
    const last = runs[runs.length - 1];
    if (last && last[1] === a - 1) last[1] = a;
    else runs.push([a, a]);
  }
  let current = x;
  let shape = [...x.shape];
  for (let i = runs.length - 1; i >= 0; i--) {
    const [start, end] = runs[i]!;
    const outer = shapeSize(shape.slice(0, start));
    const r = shapeSize(shape.slice(start, end + 1));
    const inner = shapeSize(shape.slice(end + 1));
    for (let d = start; d <= end; d++) shape[d] = 1;
    const out = emptyTensor(ctx, shape);
    const runScale = i === 0 ? scale : 1;
    const uniforms = { outer, r, inner, scale: runScale };
    if (outer * inner > 0) {
      const spec = inner === 1 && r >= 32 ? rowsK(op, ctx.subgroupSize ?? 0) : columnsK(op);
      ctx.run(spec, [rangeOf(current), rangeOf(out)], uniforms);
    }
    if (current !== x) current.dispose();
    current = out;
    shape = [...out.shape];
  }
  if (current === x) return x.handle();
  return current;
}

function dropAxes(shape: readonly number[], axes: number[]): number[] {
  return shape.filter((_, i) => !axes.includes(i));
}

function finish(keptShape: Tensor, axes: number[], keepdim: boolean): Tensor {
  if (keepdim) return keptShape;
  const out = keptShape.handle(dropAxes(keptShape.shape, axes));
  keptShape.dispose();
  return out;
}

/** Gradient of a reduction: g (reduced shape) viewed with kept axes, broadcast to `shape`. */
function expandGrad(g: Tensor, keptShape: readonly number[], shape: readonly number[]): Tensor {
  const kept = g.handle(keptShape);
  const out = broadcastTo(kept, shape);
  kept.dispose();
  return out;
}

export function sum(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  checkInputs('sum', x);
  const list = resolveAxes('sum', axes, x.rank);
  const kept = reduceKeepdim('sum', x, list);
  const keptShape = kept.shape;
  const out = finish(kept, list, keepdim);
  return record('sum', out, [x], (g) => [expandGrad(g, keptShape, x.shape)]);
}

export function mean(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  checkInputs('mean', x);
  const list = resolveAxes('mean', axes, x.rank);
  const count = shapeSize(list.map((a) => x.shape[a]!));
  if (count === 0) throw new Error(`mean: reducing over an empty axis of shape [${x.shape}]`);
  const kept = reduceKeepdim('sum', x, list, 1 / count);
  const keptShape = kept.shape;
  const out = finish(kept, list, keepdim);
  return record('mean', out, [x], (g) => {
    const expanded = expandGrad(g, keptShape, x.shape);
    return [expanded.mul(1 / count)];
  });
}

export function max(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  checkInputs('max', x);
  const list = resolveAxes('max', axes, x.rank);
  if (list.some((a) => x.shape[a] === 0)) throw new Error(`max: reducing over an empty axis of shape [${x.shape}]`);
  const kept = reduceKeepdim('max', x, list);
  const keptShape = kept.shape;
  const saved = kept.handle();
  const out = finish(kept, list, keepdim);
  const result = record(
    'max',
    out,
    [x],
    (g, [sx, sm]) => {
      // The gradient is shared equally by the elements equal to the maximum (as torch.amax).
      const mask = mapBinary('equalMask', sx!, sm!);
      const count = reduceKeepdim('sum', mask, list);
      const share = mapBinary('div', g.handle(keptShape), count);
      return [mapBinary('mul', mask, share)];
    },
    [x, saved],
  );
  saved.dispose();
  return result;
}
