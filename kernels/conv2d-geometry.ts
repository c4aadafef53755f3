// Geometry of conv2d as implicit GEMMs: pure arithmetic on shapes, no GPU, no tensors.
//
// Every pass (forward, each stride phase of dX, dW) is one GEMM  C[row, col] = Σ_k A(row, k)·B[k, col]
// run by kernels/conv2d.ts. Its rows come in *quads* of 4, because A is read from a "quad
// layout" copy of the input (or of dY) made by kernels/conv2d-prep.ts, in which the 4 values
// that the 4 rows of a quad need for one k are one aligned vec4:
//   quad layout: vec4 element (P, y, x), P = a·inner + b, lane l holds
//                src[plane(P, l), y − top, x − left] (0 outside the source or past limA / limB),
//                plane(P, l) = a·sa + b·sb + l·sl.
//   A(quad q, k) = srcQ[rowBase(q) + kOff[k]]   (a vec4: the 4 rows of quad q)
//   B            = a dense [K, cols] operand gathered from the weight (or from dY) by kernels/conv2d-prep.ts
//   C[(q, l), col] is stored at out[outBase(q) + l·laneStride + col·colStride] when the lane is a
//   real row: q = (a·d1 + b)·d2 + c with a·4 + l < laneLimit.
// rowBase, outBase and the kOff table are "index maps": an index i is split as
// i = (a·d1 + b)·d2 + c and mapped to a·s0 + b·s1 + c·s2 + base (rowBase and kOff in vec4 units).
//
//  forward: "N4" layout of the zero-padded input: P = (n / 4, c), lanes = 4 images. Quad = output
//           pixel (n / 4, oy, ox) of 4 images, k = tap (c, ky, kx), col = output channel o.
//  dX:      N4 layout of the zero-padded dY. For each phase (ry, rx) of the stride, quad = input
//           pixel (n / 4, ty, tx) of 4 images with iy = iy0 + sh·ty, k = (o, jy, jx) over only the
//           taps ky = ry + sh·j that reach that phase (no multiplications by the zeros of a
//           dilated dY), col = input channel c.
//  dW:      "C4" layout of the zero-padded input: P = (n, c / 4), lanes = 4 channels. Quad = tap
//           (c / 4, ky, kx) of 4 channels, k = output pixel (n, oy, ox), col = output channel o;
//           the result is written straight into dW's [O, C, kh, kw] layout.
// A batch (forward, dX) or channel count (dW) that is not a multiple of 4 is padded with zero
// planes in the quad layout, and the rows they produce are not stored.
//  forward of a 1×1 convolution without padding, stride 1 or 2, whose output rows are whole
//           quads (wo a multiple of 4; w too at stride 1, w = 2·wo at stride 2): no copy. A is
//           read from the NCHW input itself, lanes = 4 consecutive output pixels of one row:
//           quad = (n, oy, ox / 4), k = c. At stride 1 the 4 pixels are one aligned vec4; at
//           stride 2 they are the even floats of 8 aligned ones (`pixelStep` 2).

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

/**
 * Quad-layout copy of h×w planes: outer·inner vec4 planes of hp×wp, the data starting at (top, left);
 * lane l of vec4 plane P = a·inner + b is source plane a·sa + b·sb + l·sl when a·4 + l < limA and
 * b·4 + l < limB, else zeros. Element (y, x) of source plane q is src[q·planeSize + y·rowStep +
 * x·colStep]: planeSize h·w, rowStep w, colStep 1 for whole planes; larger steps read every
 * stride-th pixel (the input of a 1×1 strided convolution).
 */
export interface QuadPlan {
  planeSize: number;
  rowStep: number;
  colStep: number;
  outer: number;
  inner: number;
  h: number;
  w: number;
  hp: number;
  wp: number;
  top: number;
  left: number;
  sa: number;
  sb: number;
  sl: number;
  limA: number;
  limB: number;
}

/** B[k, col] = k < rows && col < cols ? src[map(k) + col·colStride] : 0. */
export interface GatherPlan {
  rows: number;
  cols: number;
  map: IndexMap;
  colStride: number;
}

export interface GemmPlan {
  /** Row quads (the GEMM has 4·quads rows, some of them padding). */
  quads: number;
  cols: number;
  k: number;
  /** quad → vec4 index of its row base in the quad layout. */
  rowMap: IndexMap;
  /** kOff[k] = kMap(k), in vec4 units. */
  kMap: IndexMap;
  /** quad → output index of its lane 0. Splits quads with the same d1, d2 as rowMap (the kernels decompose each quad once). */
  outMap: IndexMap;
  /** Output index step between the 4 lanes (rows) of a quad. */
  laneStride: number;
  /** Lane l of quad (a, b, c) is a real row iff a·4 + l < laneLimit. */
  laneLimit: number;
  colStride: number;
  /**
   * 1: A(q, k) is the vec4 at rowBase(q) + kOff[k]; 2: it is the even floats of the two vec4s
   * there (4 pixels two apart, read from an unpadded input).
   */
  pixelStep: 1 | 2;
}

export interface ConvPass {
  gather: GatherPlan;
  gemm: GemmPlan;
}

/** The quad-layout source a pass reads (null: it reads its input as it is), and the pass. */
export interface ConvPlan {
  layout: QuadPlan | null;
  pass: ConvPass;
}

/** A plan that reads a quad-layout copy. */
export type QuadConvPlan = ConvPlan & { layout: QuadPlan };

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

const quarter = (x: number) => Math.ceil(x / 4);

/** N4 layout of `planes`-channel images (the batch in lanes), zero-padded by top/left and to hp × wp. */
function n4Layout(n: number, planes: number, h: number, w: number, hp: number, wp: number, top: number, left: number): QuadPlan {
  return { outer: quarter(n), inner: planes, h, w, hp, wp, top, left, sa: 4 * planes, sb: 1, sl: planes, limA: n, limB: 4 * planes, ...wholePlanes(h, w) };
}

/** C4 layout of the input (4 channels in lanes), zero-padded like the forward pass. */
function c4Layout(g: ConvGeometry): QuadPlan {
  const [hp, wp] = paddedInputDims(g);
  return { outer: g.n, inner: quarter(g.c), h: g.h, w: g.w, hp, wp, top: g.ph, left: g.pw, sa: g.c, sb: 4, sl: 1, limA: 4 * g.n, limB: g.c, ...wholePlanes(g.h, g.w) };
}

const wholePlanes = (h: number, w: number) => ({ planeSize: h * w, rowStep: w, colStep: 1 });

/**
 * A 1×1 convolution with stride s and no padding reads only every s-th pixel: it is the stride-1
 * convolution of the subsampled ho×wo input. Plans for it copy just those pixels into the quad
 * layout (a quarter of the input at stride 2) and run the stride-1 GEMM.
 */
function withSubsampledInput(g: ConvGeometry, plan: (g: ConvGeometry) => QuadConvPlan): QuadConvPlan {
  if (!isPointwise(g) || (g.sh === 1 && g.sw === 1)) return plan(g);
  const inner = plan({ ...g, h: g.ho, w: g.wo, sh: 1, sw: 1 });
  return { ...inner, layout: { ...inner.layout, planeSize: g.h * g.w, rowStep: g.sh * g.w, colStep: g.sw } };
}

const isPointwise = (g: ConvGeometry) => g.kh === 1 && g.kw === 1 && g.ph === 0 && g.pw === 0;

/** Whether the forward pass reads the NCHW input directly (see the header). */
export function readsInputDirectly(g: ConvGeometry): boolean {
  if (!isPointwise(g) || g.sh !== g.sw || g.wo % 4 !== 0) return false;
  return g.sh === 1 ? g.w % 4 === 0 : g.sh === 2 && g.w === 2 * g.wo;
}

function paddedInputDims(g: ConvGeometry): [number, number] {
  return [g.h + 2 * g.ph, g.w + 2 * g.pw];
}

export function forwardPlan(g: ConvGeometry): ConvPlan {
  return readsInputDirectly(g) ? directForwardPlan(g) : withSubsampledInput(g, wholeForwardPlan);
}

/** B[k, o] = weight[o, k] */
const forwardGather = (g: ConvGeometry, k: number): GatherPlan => ({ rows: k, cols: g.o, map: map(1, 1, [1, 0, 0]), colStride: k });

function directForwardPlan(g: ConvGeometry): ConvPlan {
  const plane = g.ho * g.wo;
  const qx = g.wo / 4;
  const step = g.sh as 1 | 2;
  return {
    layout: null,
    pass: {
      gather: forwardGather(g, g.c),
      gemm: {
        quads: g.n * g.ho * qx,
        cols: g.o,
        k: g.c,
        rowMap: map(g.ho, qx, [(g.c * g.h * g.w) / 4, (step * g.w) / 4, step]),
        kMap: map(1, 1, [(g.h * g.w) / 4, 0, 0]),
        outMap: map(g.ho, qx, [g.o * plane, g.wo, 4]),
        laneStride: 1,
        laneLimit: 4 * g.n, // a = n: every lane is a real pixel
        colStride: plane,
        pixelStep: step,
      },
    },
  };
}

function wholeForwardPlan(g: ConvGeometry): QuadConvPlan {
  const [hp, wp] = paddedInputDims(g);
  const k = g.c * g.kh * g.kw;
  const plane = g.ho * g.wo;
  return {
    layout: n4Layout(g.n, g.c, g.h, g.w, hp, wp, g.ph, g.pw),
    pass: {
      gather: forwardGather(g, k),
      gemm: {
        quads: quarter(g.n) * plane,
        cols: g.o,
        k,
        rowMap: map(g.ho, g.wo, [g.c * hp * wp, g.sh * wp, g.sw]),
        kMap: map(g.kh, g.kw, [hp * wp, wp, 1]),
        outMap: map(g.ho, g.wo, [4 * g.o * plane, g.wo, 1]),
        laneStride: g.o * plane,
        laneLimit: g.n,
        colStride: plane,
        pixelStep: 1,
      },
    },
  };
}

export function weightGradPlan(g: ConvGeometry): QuadConvPlan {
  return withSubsampledInput(g, wholeWeightGradPlan);
}

function wholeWeightGradPlan(g: ConvGeometry): QuadConvPlan {
  const [hp, wp] = paddedInputDims(g);
  const taps = g.kh * g.kw;
  const plane = g.ho * g.wo;
  return {
    layout: c4Layout(g),
    pass: {
      // B[r, o] = dY[n, o, pix] for r = n·plane + pix
      gather: { rows: g.n * plane, cols: g.o, map: map(1, plane, [g.o * plane, 0, 1]), colStride: plane },
      gemm: {
        quads: quarter(g.c) * taps,
        cols: g.o,
        k: g.n * plane,
        rowMap: map(g.kh, g.kw, [hp * wp, wp, 1]),
        kMap: map(g.ho, g.wo, [quarter(g.c) * hp * wp, g.sh * wp, g.sw]),
        outMap: map(g.kh, g.kw, [4 * taps, g.kw, 1]),
        laneStride: taps,
        laneLimit: g.c,
        colStride: g.c * taps,
        pixelStep: 1,
      },
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
  /** The N4 layout of dY (zero-padded as far as the phases read) that every phase reads. */
  layout: QuadPlan;
  passes: ConvPass[];
}

export function inputGradPlan(g: ConvGeometry): InputGradPlan {
  const py = phases(g.h, g.ho, g.kh, g.sh, g.ph);
  const px = phases(g.w, g.wo, g.kw, g.sw, g.pw);
  const hp = py.padded;
  const wp = px.padded;
  const layout = n4Layout(g.n, g.o, g.ho, g.wo, hp, wp, py.low, px.low);
  const passes: ConvPass[] = [];
  const kk = g.kh * g.kw;
  const image = g.c * g.h * g.w;
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
          quads: quarter(g.n) * y.t * x.t,
          cols: g.c,
          k,
          rowMap: map(y.t, x.t, [g.o * hp * wp, wp, 1], (y.boff + py.low - (y.j - 1)) * wp + (x.boff + px.low - (x.j - 1))),
          kMap: map(y.j, x.j, [hp * wp, wp, 1]),
          outMap: map(y.t, x.t, [4 * image, g.sh * g.w, g.sw], y.i0 * g.w + x.i0),
          laneStride: image,
          laneLimit: g.n,
          colStride: g.h * g.w,
          pixelStep: 1,
        },
      });
    }
  }
  return { layout, passes };
}
