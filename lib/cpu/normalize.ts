// CPU reference (float64) of the row L2 normalisation y = x / max(‖x‖₂, eps) over the last axis,
// and its analytic gradient.
import type { RefArray } from './array';
import { refRows } from './softmax';

function rowNorm(x: Float64Array, base: number, cols: number): number {
  let ss = 0;
  for (let j = 0; j < cols; j++) ss += x[base + j]! * x[base + j]!;
  return Math.sqrt(ss);
}

export function refL2Normalize(x: RefArray, eps = 1e-12): RefArray {
  const { rows, cols } = refRows(x.shape);
  const out = new Float64Array(x.data.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const d = Math.max(rowNorm(x.data, base, cols), eps);
    for (let j = 0; j < cols; j++) out[base + j] = x.data[base + j]! / d;
  }
  return { data: out, shape: [...x.shape] };
}

/** dx = (g − y·Σ g·y) / ‖x‖ where ‖x‖ > eps, else g / eps. */
export function refL2NormalizeBackward(x: RefArray, g: RefArray, eps = 1e-12): RefArray {
  const { rows, cols } = refRows(x.shape);
  const dx = new Float64Array(x.data.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const n = rowNorm(x.data, base, cols);
    if (n <= eps) {
      for (let j = 0; j < cols; j++) dx[base + j] = g.data[base + j]! / eps;
      continue;
    }
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += (g.data[base + j]! * x.data[base + j]!) / n;
    for (let j = 0; j < cols; j++) dx[base + j] = (g.data[base + j]! - (x.data[base + j]! / n) * dot) / n;
  }
  return { data: dx, shape: [...x.shape] };
}
