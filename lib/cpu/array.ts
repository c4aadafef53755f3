// The CPU reference works on float64 arrays with a shape (row-major), with plain loops: slow,
// obviously correct, and the yardstick every GPU kernel is tested against.

export interface RefArray {
  data: Float64Array;
  shape: number[];
}

export function refSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function ref(data: ArrayLike<number>, shape: readonly number[]): RefArray {
  if (data.length !== refSize(shape)) throw new Error(`ref: ${data.length} values for shape [${shape}]`);
  return { data: Float64Array.from(data), shape: [...shape] };
}

export function refZeros(shape: readonly number[]): RefArray {
  return { data: new Float64Array(refSize(shape)), shape: [...shape] };
}

export function refStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Coordinates of flat index i in shape. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return c;
}

/** Flat index of coords in shape, where axes of size 1 (broadcast) read index 0. */
export function ravelBroadcast(coords: readonly number[], shape: readonly number[]): number {
  const lead = coords.length - shape.length;
  let idx = 0;
  for (let d = 0; d < shape.length; d++) {
    const c = shape[d] === 1 ? 0 : coords[d + lead]!;
    idx = idx * shape[d]! + c;
  }
  return idx;
}

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`cpu: shapes [${a}] and [${b}] do not broadcast`);
    out.push(da === 1 ? db : da);
  }
  return out;
}
