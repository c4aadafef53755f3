// CPU reference of the pooling ops (NCHW, float64), PyTorch semantics.
// maxPool2d: out[n,c,oh,ow] = max over the window rows oh·sh − ph + [0, kh), columns
//   ow·sw − pw + [0, kw); padded positions count as −inf (they are skipped). The index of each
//   output is the first maximum in row-major window order, as a flat index h·W + w within its
//   (n, c) plane; NaN wins over any number. Ho = floor((H + 2ph − kh) / sh) + 1 (no ceil mode).
//   The backward adds each output's gradient to its index (several outputs may share one).
// globalAvgPool2d: out[n,c,0,0] = mean over the plane; backward spreads g / (H·W).
import { refSize, type RefArray } from './array';

export interface RefMaxPoolOptions {
  kernel: number | readonly [number, number];
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
}

function pair(v: number | readonly [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

export function refMaxPool2d(x: RefArray, options: RefMaxPoolOptions): { y: RefArray; indices: Int32Array } {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [kh, kw] = pair(options.kernel);
  const [sh, sw] = pair(options.stride ?? options.kernel);
  const [ph, pw] = pair(options.padding ?? 0);
  const ho = Math.floor((h + 2 * ph - kh) / sh) + 1;
  const wo = Math.floor((w + 2 * pw - kw) / sw) + 1;
  const y = new Float64Array(n * c * ho * wo);
  const indices = new Int32Array(y.length);
  for (let plane = 0; plane < n * c; plane++) {
    for (let oh = 0; oh < ho; oh++) {
      for (let ow = 0; ow < wo; ow++) {
        let best = -Infinity;
        let index = -1;
        for (let i = oh * sh - ph; i < oh * sh - ph + kh; i++) {
          for (let j = ow * sw - pw; j < ow * sw - pw + kw; j++) {
            if (i < 0 || i >= h || j < 0 || j >= w) continue;
            const v = x.data[plane * h * w + i * w + j]!;
            if (index < 0 || v > best || Number.isNaN(v)) {
              best = v;
              index = i * w + j;
            }
          }
        }
        const o = (plane * ho + oh) * wo + ow;
        y[o] = best;
        indices[o] = index;
      }
    }
  }
  return { y: { data: y, shape: [n, c, ho, wo] }, indices };
}

/** Gradient of maxPool2d: gy [N,C,Ho,Wo] scattered to the saved indices of an input of xShape. */
export function refMaxPool2dBackward(gy: RefArray, indices: Int32Array, xShape: readonly number[]): RefArray {
  const [, , h, w] = xShape as [number, number, number, number];
  const [, , ho, wo] = gy.shape as [number, number, number, number];
  const dx = new Float64Array(refSize(xShape));
  for (let o = 0; o < gy.data.length; o++) {
    const plane = Math.floor(o / (ho * wo));
    dx[plane * h * w + indices[o]!]! += gy.data[o]!;
  }
  return { data: dx, shape: [...xShape] };
}

export function refGlobalAvgPool2d(x: RefArray): RefArray {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const hw = h * w;
  const y = new Float64Array(n * c);
  for (let r = 0; r < n * c; r++) {
    let s = 0;
    for (let k = 0; k < hw; k++) s += x.data[r * hw + k]!;
    y[r] = s / hw;
  }
  return { data: y, shape: [n, c, 1, 1] };
}

export function refGlobalAvgPool2dBackward(gy: RefArray, xShape: readonly number[]): RefArray {
  const hw = xShape[2]! * xShape[3]!;
  const dx = new Float64Array(refSize(xShape));
  for (let i = 0; i < dx.length; i++) dx[i] = gy.data[Math.floor(i / hw)]! / hw;
  return { data: dx, shape: [...xShape] };
}
