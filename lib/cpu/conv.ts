// float64 reference of conv2d (NCHW, weights [O, C, kh, kw], dilation 1) and of its backward.
//   y[n,o,oy,ox] = b[o] + Σ_{c,ky,kx} w[o,c,ky,kx] · x[n,c, oy·sh − ph + ky, ox·sw − pw + kx]
// where taps that fall outside the input read 0 (zero padding). Plain loops, no cleverness: this
// is the yardstick the GPU kernels are tested against.
import type { RefArray } from './array';

export interface RefConvOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
}

function pair(v: number | readonly [number, number] | undefined, fallback: number): [number, number] {
  if (v === undefined) return [fallback, fallback];
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

interface Geometry {
  n: number; c: number; h: number; w: number;
  o: number; kh: number; kw: number;
  sh: number; sw: number; ph: number; pw: number;
  ho: number; wo: number;
}

function geometry(xShape: readonly number[], wShape: readonly number[], options: RefConvOptions): Geometry {
  const [n, c, h, w] = xShape as [number, number, number, number];
  const [o, wc, kh, kw] = wShape as [number, number, number, number];
  if (xShape.length !== 4 || wShape.length !== 4 || wc !== c) {
    throw new Error(`refConv2d: x [${xShape}] and weight [${wShape}] do not match`);
  }
  const [sh, sw] = pair(options.stride, 1);
  const [ph, pw] = pair(options.padding, 0);
  const ho = Math.floor((h + 2 * ph - kh) / sh) + 1;
  const wo = Math.floor((w + 2 * pw - kw) / sw) + 1;
  if (ho < 1 || wo < 1) throw new Error(`refConv2d: kernel ${kh}x${kw} larger than the padded input`);
  return { n, c, h, w, o, kh, kw, sh, sw, ph, pw, ho, wo };
}

/** The output columns ox whose tap kx lands inside the input: 0 ≤ ox·s − pad + kx < size. */
function validRange(k: number, stride: number, pad: number, size: number, outSize: number): [number, number] {
  const lo = Math.max(0, Math.ceil((pad - k) / stride));
  const hi = Math.min(outSize, Math.floor((size - 1 + pad - k) / stride) + 1);
  return [lo, Math.max(lo, hi)];
}

/** y = conv2d(x, w) + b (b may be null). */
export function refConv2d(x: RefArray, w: RefArray, b: RefArray | null, options: RefConvOptions = {}): RefArray {
  const g = geometry(x.shape, w.shape, options);
  const out = new Float64Array(g.n * g.o * g.ho * g.wo);
  // Loop order n, o, c, ky, kx, oy, ox keeps the innermost loop on one output row.
  for (let n = 0; n < g.n; n++)
    for (let o = 0; o < g.o; o++) {
      const yBase = (n * g.o + o) * g.ho * g.wo;
      for (let c = 0; c < g.c; c++)
        for (let ky = 0; ky < g.kh; ky++)
          for (let kx = 0; kx < g.kw; kx++) {
            const wv = w.data[((o * g.c + c) * g.kh + ky) * g.kw + kx]!;
            const [oxLo, oxHi] = validRange(kx, g.sw, g.pw, g.w, g.wo);
            for (let oy = 0; oy < g.ho; oy++) {
              const iy = oy * g.sh - g.ph + ky;
              if (iy < 0 || iy >= g.h) continue;
              const xRow = ((n * g.c + c) * g.h + iy) * g.w - g.pw + kx;
              const yRow = yBase + oy * g.wo;
              for (let ox = oxLo; ox < oxHi; ox++) out[yRow + ox]! += wv * x.data[xRow + ox * g.sw]!;
            }
          }
      if (b) for (let i = 0; i < g.ho * g.wo; i++) out[yBase + i]! += b.data[o]!;
    }
  return { data: out, shape: [g.n, g.o, g.ho, g.wo] };
}

export interface RefConvGrads {
  dx: RefArray;
  dw: RefArray;
  db: RefArray;
}

/** Analytic gradients of Σ gy·conv2d(x, w, b) with respect to x, w and b. */
export function refConv2dBackward(x: RefArray, w: RefArray, gy: RefArray, options: RefConvOptions = {}): RefConvGrads {
  const g = geometry(x.shape, w.shape, options);
  if (gy.shape.join() !== [g.n, g.o, g.ho, g.wo].join()) {
    throw new Error(`refConv2dBackward: gradient [${gy.shape}] does not match the output [${[g.n, g.o, g.ho, g.wo]}]`);
  }
  const dx = new Float64Array(x.data.length);
  const dw = new Float64Array(w.data.length);
  const db = new Float64Array(g.o);
  for (let n = 0; n < g.n; n++)
    for (let o = 0; o < g.o; o++) {
      const yBase = (n * g.o + o) * g.ho * g.wo;
      for (let i = 0; i < g.ho * g.wo; i++) db[o]! += gy.data[yBase + i]!;
      for (let c = 0; c < g.c; c++)
        for (let ky = 0; ky < g.kh; ky++)
          for (let kx = 0; kx < g.kw; kx++) {
            const wi = ((o * g.c + c) * g.kh + ky) * g.kw + kx;
            const wv = w.data[wi]!;
            let dwv = 0;
            const [oxLo, oxHi] = validRange(kx, g.sw, g.pw, g.w, g.wo);
            for (let oy = 0; oy < g.ho; oy++) {
              const iy = oy * g.sh - g.ph + ky;
              if (iy < 0 || iy >= g.h) continue;
              const xRow = ((n * g.c + c) * g.h + iy) * g.w - g.pw + kx;
              const yRow = yBase + oy * g.wo;
              for (let ox = oxLo; ox < oxHi; ox++) {
                const gv = gy.data[yRow + ox]!;
                const xi = xRow + ox * g.sw;
                dx[xi]! += gv * wv;
                dwv += gv * x.data[xi]!;
              }
            }
            dw[wi]! += dwv;
          }
    }
  return { dx: { data: dx, shape: [...x.shape] }, dw: { data: dw, shape: [...w.shape] }, db: { data: db, shape: [g.o] } };
}
