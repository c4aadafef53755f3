// Geometry of conv2d as implicit GEMMs: pure arithmetic on shapes, no GPU, no tensors.
//
// Every pass (forward, each stride phase of dX, dW) is one GEMM  C[m, col] = Σ_k A(m, k)·B[k, col]
// run by kernels/conv2d.ts, where
//   A(m, k) = src[rowBase(m) + kOff[k]]     (src: the input, or dY, zero-padded so no tap needs a check)
//   B       = a dense [K, cols] operand gathered from the weight (or from dY) by kernels/conv2d-prep.ts
//   C[m, col] is stored at out[outBase(m) + col·colStride].
// rowBase, outBase and the kOff table are all "index maps": an index i is split as
// i = (a·d1 + b)·d2 + c and mapped to a·s0 + b·s1 + c·s2 + base.
//
//  forward: m = output pixel (n, oy, ox), k = tap (c, ky, kx), col = output channel o.
//  dX:      for each phase (ry, rx) of the stride, m = input pixel (n, ty, tx) with
//           iy = iy0 + sh·ty, k = (o, jy, jx) over only the taps ky = ry + sh·j that reach that
//           phase (no multiplications by the zeros of a dilated dY), col = input channel c.
//  dW:      m = tap (c, ky, kx), k = output pixel (n, oy, ox), col = output channel o; the result
//           is written straight into dW's [O, C, kh, kw] layout.

export interface ConvOptionsResolved {
  sh: number;
  sw: number;
  ph: number;
  pw: number;
}

export interface ConvGeometry extends ConvOptionsResolved {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  kh: number;
  kw: number;
  ho: number;
  wo: number;
}

/** i = (a·d1 + b)·d2 + c  →  a·s[0] + b·s[1] + c·s[2] + base. */
export interface IndexMap {
  d1: number;
  d2: number;
  s: [number, number, number];
  base: number;
}

/** Zero-padded copy of planes×h×w into planes×hp×wp, the data starting at (top, left). */
export interface PadPlan {
  planes: number;
  h: number;
  w: number;
  hp: number;
  wp: number;
  top: number;
  left: number;
}

/** B[k, col] = k < rows && col < cols ? src[map(k) + col·colStride] : 0. */
export interface GatherPlan {
  rows: number;
  cols: number;
  map: IndexMap;
  colStride: number;
}

export interface GemmPlan {
  m: number;
  cols: number;
  k: number;
  rowMap: IndexMap;
  /** kOff[k] = kMap(k). */
  kMap: IndexMap;
  /** Splits m with the same d1, d2 as rowMap (the kernels decompose each row once). */
  outMap: IndexMap;
  colStride: number;
}

export interface ConvPass {
  gather: GatherPlan;
  gemm: GemmPlan;
}

export function outputSize(size: number, kernel: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

export function convGeometry(
  xShape: readonly number[],
  wShape: readonly number[],
  o: ConvOptionsResolved,
): ConvGeometry {
  const [n, c, h, w] = xShape as [number, number, number, number];
  const [out, , kh, kw] = wShape as [number, number, number, number];
  return { n, c, h, w, o: out, kh, kw, ...o, ho: outputSize(h, kh, o.sh, o.ph), wo: outputSize(w, kw, o.sw, o.pw) };
}

const map = (d1: number, d2: number, s: [number, number, number], base = 0): IndexMap => ({
  d1: Math.max(1, d1),
  d2: Math.max(1, d2),
  s,
  base,
});

/** The zero-padded input read by forward and dW (null when there is no padding). */
export function inputPad(g: ConvGeometry): PadPlan | null {
  if (g.ph === 0 && g.pw === 0) return null;
  return { planes: g.n * g.c, h: g.h, w: g.w, hp: g.h + 2 * g.ph, wp: g.w + 2 * g.pw, top: g.ph, left: g.pw };
}

function paddedInputDims(g: ConvGeometry): [number, number] {
  return [g.h + 2 * g.ph, g.w + 2 * g.pw];
}

export function forwardPass(g: ConvGeometry): ConvPass {
  const [hp, wp] = paddedInputDims(g);
  const k = g.c * g.kh * g.kw;
  return {
    // B[k, o] = weight[o, k]
    gather: { rows: k, cols: g.o, map: map(1, 1, [1, 0, 0]), colStride: k },
    gemm: {
      m: g.n * g.ho * g.wo,
      cols: g.o,
      k,
      rowMap: map(g.ho, g.wo, [g.c * hp * wp, g.sh * wp, g.sw]),
      kMap: map(g.kh, g.kw, [hp * wp, wp, 1]),
      outMap: map(g.ho, g.wo, [g.o * g.ho * g.wo, g.wo, 1]),
      colStride: g.ho * g.wo,
    },
  };
}

export function weightGradPass(g: ConvGeometry): ConvPass {
  const [hp, wp] = paddedInputDims(g);
  const taps = g.c * g.kh * g.kw;
  const plane = g.ho * g.wo;
  return {
    // B[r, o] = dY[n, o, pix] for r = n·plane + pix
    gather: { rows: g.n * plane, cols: g.o, map: map(1, plane, [g.o * plane, 0, 1]), colStride: plane },
    gemm: {
      m: taps,
      cols: g.o,
      k: g.n * plane,
      rowMap: map(g.kh, g.kw, [hp * wp, wp, 1]),
      kMap: map(g.ho, g.wo, [g.c * hp * wp, g.sh * wp, g.sw]),
      outMap: map(g.kh, g.kw, [g.kh * g.kw, g.kw, 1]),
      colStride: taps,
    },
  };
}

interface Phase {
  r: number; // tap residue: taps r, r + s, r + 2s, ...
  j: number; // how many taps
  i0: number; // first input coordinate of the phase
  t: number; // how many input coordinates
  boff: number; // output coordinate of tap 0 for t = 0
}

function phases(size: number, outSize: number, kernel: number, stride: number, pad: number): { list: Phase[]; low: number; padded: number } {
  const list: Phase[] = [];
  let low = 0;
  let high = outSize;
  for (let r = 0; r < stride; r++) {
    const j = r < kernel ? Math.ceil((kernel - r) / stride) : 0;
    const i0 = (((r - pad) % stride) + stride) % stride;
    const t = i0 < size ? Math.ceil((size - i0) / stride) : 0;
    const boff = (i0 + pad - r) / stride;
    list.push({ r, j, i0, t, boff });
    if (j > 0 && t > 0) {
      low = Math.max(low, j - 1 - boff);
      high = Math.max(high, boff + t);
    }
  }
  return { list, low, padded: low + high };
}

export interface InputGradPlan {
  /** Zero-padded copy of dY all phases read (null: dY is read as it is). */
  pad: PadPlan | null;
  passes: ConvPass[];
}

export function inputGradPlan(g: ConvGeometry): InputGradPlan {
  const py = phases(g.h, g.ho, g.kh, g.sh, g.ph);
  const px = phases(g.w, g.wo, g.kw, g.sw, g.pw);
  const hp = py.padded;
  const wp = px.padded;
  const pad: PadPlan | null =
    hp === g.ho && wp === g.wo ? null : { planes: g.n * g.o, h: g.ho, w: g.wo, hp, wp, top: py.low, left: px.low };
  const passes: ConvPass[] = [];
  const kk = g.kh * g.kw;
  for (const y of py.list) {
    for (const x of px.list) {
      if (y.t === 0 || x.t === 0) continue;
      const k = g.o * y.j * x.j; // 0 when no tap reaches this phase: the pass writes zeros
      passes.push({
        // B[(o, j'y, j'x), c] = weight[o, c, ry + sh·(Jy−1−j'y), rx + sw·(Jx−1−j'x)]
        gather: {
          rows: k,
          cols: g.c,
          map: map(y.j, x.j, [g.c * kk, -g.sh * g.kw, -g.sw], (y.r + g.sh * (y.j - 1)) * g.kw + x.r + g.sw * (x.j - 1)),
          colStride: kk,
        },
        gemm: {
          m: g.n * y.t * x.t,
          cols: g.c,
          k,
          rowMap: map(y.t, x.t, [g.o * hp * wp, wp, 1], (y.boff + py.low - (y.j - 1)) * wp + (x.boff + px.low - (x.j - 1))),
          kMap: map(y.j, x.j, [hp * wp, wp, 1]),
          outMap: map(y.t, x.t, [g.c * g.h * g.w, g.sh * g.w, g.sw], y.i0 * g.w + x.i0),
          colStride: g.h * g.w,
        },
      });
    }
  }
  return { pad, passes };
}
