// Helpers shared by the ops: input checks with errors that name the op, shape arithmetic, and a
// memo so each kernel spec (its WGSL string) is built once per configuration.
import type { KernelSpec } from '../../kernels/spec';
import type { BufferRange, GpuContext } from '../runtime/context';
import type { Tensor } from '../tensor';

const specs = new Map<string, KernelSpec>();

/** Wraps a kernel factory so that each distinct argument list builds its spec only once. */
export function memoKernel<A extends unknown[]>(factory: (...args: A) => KernelSpec): (...args: A) => KernelSpec {
  const prefix = `${factory.name}(`;
  return (...args: A) => {
    const key = prefix + JSON.stringify(args);
    let spec = specs.get(key);
    if (!spec) specs.set(key, (spec = factory(...args)));
    return spec;
  };
}

/** Checks that every tensor is alive and on one context; returns that context. */
export function checkInputs(op: string, ...tensors: Tensor[]): GpuContext {
  for (const t of tensors) {
    if (!t || typeof t !== 'object' || !('shape' in t)) throw new Error(`${op}: expected a Tensor, got ${String(t)}`);
    t.assertAlive(op);
  }
  const ctx = tensors[0]!.ctx;
  if (tensors.some((t) => t.ctx !== ctx)) throw new Error(`${op}: tensors live on different GPU contexts`);
  ctx.throwIfFailed();
  return ctx;
}

export function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** The padded buffer range of a tensor, as kernels bind it. */
export function rangeOf(t: Tensor): BufferRange {
  return t.storage.range;
}

/** Whether two buffer ranges share at least one byte. */
export function rangesOverlap(a: BufferRange, b: BufferRange): boolean {
  return a.buffer === b.buffer && a.offset < b.offset + b.size && b.offset < a.offset + a.size;
}

/** Number of vec4s covering the tensor. */
export function vec4Count(t: Tensor): number {
  return Math.ceil(t.size / 4);
}

/** Row-major strides of a shape, in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** NumPy broadcasting of two shapes; throws naming the op when they do not broadcast. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${fmt(a)} and ${fmt(b)} cannot be broadcast together (axis ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` read as if broadcast to `outShape` (0 on broadcast axes). */
export function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const own = stridesOf(shape);
  const offset = outShape.length - shape.length;
  return outShape.map((_, i) => {
    const d = i - offset;
    return d < 0 || shape[d] === 1 ? 0 : own[d]!;
  });
}

/**
 * Drops size-1 axes and merges neighbouring axes that every stride list walks contiguously, so
 * the strided kernels see the smallest rank. Returns the merged shape and stride lists.
 */
export function collapseAxes(shape: readonly number[], strides: number[][]): { shape: number[]; strides: number[][] } {
  const keep = shape.map((_, i) => i).filter((i) => shape[i] !== 1);
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (const i of keep) {
    const last = outShape.length - 1;
    const mergeable =
      last >= 0 && strides.every((s, k) => outStrides[k]![last] === s[i]! * shape[i]!);
    if (mergeable) {
      outShape[last]! *= shape[i]!;
      strides.forEach((s, k) => (outStrides[k]![last] = s[i]!));
    } else {
      outShape.push(shape[i]!);
      strides.forEach((s, k) => outStrides[k]!.push(s[i]!));
    }
  }
  return { shape: outShape, strides: outStrides };
}

/** Resolves a possibly negative axis; throws naming the op when out of range. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1)) {
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Pads a list to `length` entries with `fill` (for the kernels' fixed-size uniform arrays). */
export function padList(values: readonly number[], length: number, fill = 0): number[] {
  const out = [...values];
  while (out.length < length) out.push(fill);
  return out;
}
