// CPU reference of the data-movement ops (float64).
import { ravelBroadcast, refSize, refStrides, unravel, type RefArray } from './array';

export function refPermute(x: RefArray, axes: number[]): RefArray {
  const shape = axes.map((a) => x.shape[a]!);
  const strides = refStrides(x.shape);
  const data = new Float64Array(x.data.length);
  for (let i = 0; i < data.length; i++) {
    const c = unravel(i, shape);
    let src = 0;
    c.forEach((v, d) => (src += v * strides[axes[d]!]!));
    data[i] = x.data[src]!;
  }
  return { data, shape };
}

export function refBroadcastTo(x: RefArray, shape: number[]): RefArray {
  const data = new Float64Array(refSize(shape));
  for (let i = 0; i < data.length; i++) data[i] = x.data[ravelBroadcast(unravel(i, shape), x.shape)]!;
  return { data, shape: [...shape] };
}

export function refSlice(x: RefArray, axis: number, start: number, end: number): RefArray {
  const shape = [...x.shape];
  shape[axis] = end - start;
  const data = new Float64Array(refSize(shape));
  const strides = refStrides(x.shape);
  for (let i = 0; i < data.length; i++) {
    const c = unravel(i, shape);
    c[axis]! += start;
    data[i] = x.data[c.reduce((s, v, d) => s + v * strides[d]!, 0)]!;
  }
  return { data, shape };
}

export function refConcat(xs: RefArray[], axis: number): RefArray {
  const shape = [...xs[0]!.shape];
  shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
  const data = new Float64Array(refSize(shape));
  const strides = refStrides(shape);
  let offset = 0;
  for (const x of xs) {
    for (let i = 0; i < x.data.length; i++) {
      const c = unravel(i, x.shape);
      c[axis]! += offset;
      data[c.reduce((s, v, d) => s + v * strides[d]!, 0)] = x.data[i]!;
    }
    offset += x.shape[axis]!;
  }
  return { data, shape };
}

export function refGatherRows(x: RefArray, indices: ArrayLike<number>): RefArray {
  const cols = refSize(x.shape.slice(1));
  const data = new Float64Array(indices.length * cols);
  for (let r = 0; r < indices.length; r++) data.set(x.data.subarray(indices[r]! * cols, (indices[r]! + 1) * cols), r * cols);
  return { data, shape: [indices.length, ...x.shape.slice(1)] };
}
