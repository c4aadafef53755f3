// CPU reference of sum / mean / max over axes (float64).
import { refSize, unravel, type RefArray } from './array';

export function refReduce(op: 'sum' | 'mean' | 'max', x: RefArray, axes: number[] | undefined, keepdim = false): RefArray {
  const rank = x.shape.length;
  const list = (axes ?? [...Array(rank).keys()]).map((a) => (a < 0 ? a + rank : a));
  const kept = x.shape.map((d, i) => (list.includes(i) ? 1 : d));
  const out = new Float64Array(refSize(kept)).fill(op === 'max' ? -Infinity : 0);
  for (let i = 0; i < x.data.length; i++) {
    const c = unravel(i, x.shape);
    let o = 0;
    for (let d = 0; d < rank; d++) o = o * kept[d]! + (list.includes(d) ? 0 : c[d]!);
    out[o] = op === 'max' ? Math.max(out[o]!, x.data[i]!) : out[o]! + x.data[i]!;
  }
  if (op === 'mean') {
    const count = refSize(list.map((a) => x.shape[a]!));
    for (let i = 0; i < out.length; i++) out[i]! /= count;
  }
  return { data: out, shape: keepdim ? kept : x.shape.filter((_, i) => !list.includes(i)) };
}
