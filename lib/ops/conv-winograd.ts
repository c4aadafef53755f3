// The Winograd path of conv2d (kernels/conv2d-winograd.ts): 3×3 stride-1 convolutions with
// enough channels run all three passes on Winograd's algorithm with 2×2 or 4×4 tiles. The forward
// pass and dX (a 3×3 stride-1 convolution of dY with the flipped, transposed filters and padding
// 2 − p) are F(m×m, 3×3): filter transform → input transform → α² batched GEMMs → output
// transform. dW is F(3×3, m×m): dY's tiles act as filters over x's patches, and the GEMMs reduce
// over all tiles. With 4×4 tiles each pass does 1/4 of the direct convolution's multiplies.
// Measured on lavapipe (2 cores) at ResNet-18 shapes, batch 32: see bench/RESULTS.md.
import type { ConvGeometry } from '../../kernels/conv2d-geometry';
import {
  patchSize,
  winogradFilterGradKernel,
  winogradFilterKernel,
  winogradGradTileKernel,
  winogradInputKernel,
  winogradOutputKernel,
  type WinogradTile,
} from '../../kernels/conv2d-winograd';
import type { BufferRange, GpuContext } from '../runtime/context';
import { Storage } from '../storage';
import { gemm } from './matmul';
import { memoKernel } from './util';

const filterK = memoKernel(winogradFilterKernel);
const inputK = memoKernel(winogradInputKernel);
const outputK = memoKernel(winogradOutputKernel);
const gradTileK = memoKernel(winogradGradTileKernel);
const filterGradK = memoKernel(winogradFilterGradKernel);

/**
 * When conv2d takes the Winograd path. `minChannels`: both channel counts at least this (measured
 * at batch 32 on 32×32 planes: 32 channels 1.45× faster than the implicit GEMM, 16 channels 1.5×
 * slower: the GEMMs are too thin to pay for the transforms). `tile`: 'auto' (4×4 tiles where they
 * measured faster, see winogradApplies), or 2 or 4 on every eligible shape. Tests lower
 * minChannels, pin the tile, or switch the path off to cover the implicit GEMM.
 */
export const winogradSettings: { enabled: boolean; minChannels: number; tile: WinogradTile | 'auto' } = { enabled: true, minChannels: 32, tile: 'auto' };

/** A 3×3 stride-1 convolution as the Winograd path sees it: input planes → output planes. */
export interface WinogradConv {
  n: number;
  /** Input channels (the GEMM's K) and output channels (its N). */
  cin: number;
  cout: number;
  h: number;
  w: number;
  ho: number;
  wo: number;
  /** Zero padding above and left of the input. */
  top: number;
  left: number;
  /** Where filter (input channel k, output channel j) tap (i, j') is: base + k·sk + j·sn + i·sy + j'·sx. */
  filter: { sk: number; sn: number; sy: number; sx: number; base: number };
}

/** The forward pass of g as a Winograd convolution (weight [O, C, 3, 3]). */
export function forwardWinograd(g: ConvGeometry): WinogradConv {
  return { n: g.n, cin: g.c, cout: g.o, h: g.h, w: g.w, ho: g.ho, wo: g.wo, top: g.ph, left: g.pw, filter: { sk: 9, sn: g.c * 9, sy: 3, sx: 1, base: 0 } };
}

/**
 * dX of g: dY [N, O, Ho, Wo] convolved with w'[c][o][i][j] = w[o][c][2 − i][2 − j] and padding
 * 2 − p gives dX [N, C, H, W].
 */
export function inputGradWinograd(g: ConvGeometry): WinogradConv {
  return {
    n: g.n, cin: g.o, cout: g.c, h: g.ho, w: g.wo, ho: g.h, wo: g.w, top: 2 - g.ph, left: 2 - g.pw,
    filter: { sk: g.c * 9, sn: 9, sy: -3, sx: -1, base: 8 },
  };
}

/** The three passes of a convolution. */
export type ConvPassName = 'forward' | 'inputGrad' | 'weightGrad';

/** The tile size: 4×4 output tiles unless the settings pin one. */
export function winogradTile(): WinogradTile {
  return winogradSettings.tile === 'auto' ? 4 : winogradSettings.tile;
}

/** The m×m tiles of n output planes of ho×wo, and the α² positions of a transformed tile. */
function tiling(n: number, ho: number, wo: number, m: WinogradTile) {
  const tilesX = Math.ceil(wo / m);
  const tilesPer = tilesX * Math.ceil(ho / m);
  return { tilesX, tilesPer, T: n * tilesPer, positions: patchSize(m) ** 2 };
}

/**
 * Whether ctx runs `pass` of convolution g on the Winograd path. With the tile size left to
 * 'auto', where it measured faster than the implicit GEMM (same-process A/B on lavapipe, ResNet-18
 * shapes): output planes of at least 4×4 (forward and dX 1.1–1.7× faster from 4×4 to 16×16 and
 * a tie at 32×32; on 2×2 planes 0.6–1.0×), and for dW at least 32 tiles in all (the GEMM reduces
 * over the tiles: 4×4 planes at batch 16 took 0.85×, at batch 32 1.1–1.2×).
 */
export function winogradApplies(ctx: GpuContext, g: ConvGeometry, pass: ConvPassName = 'forward'): boolean {
  if (!winogradSettings.enabled || !ctx.subgroupSize) return false;
  if (g.kh !== 3 || g.kw !== 3 || g.sh !== 1 || g.sw !== 1 || g.ph > 2 || g.pw > 2) return false;
  if (Math.min(g.c, g.o) < winogradSettings.minChannels) return false;
  const m = winogradTile();
  const forwardTiles = tiling(g.n, g.ho, g.wo, m); // also dW's
  if (winogradSettings.tile === 'auto') {
    if (Math.min(g.ho, g.wo) < 4) return false;
    if (pass === 'weightGrad' && forwardTiles.T < 32) return false;
  }
  // Every temporary (V, Y, M: α² floats per tile and channel; U, dW's M: α² per channel pair)
  // must fit one storage binding, in every pass.
  const tiles = Math.max(forwardTiles.T, tiling(g.n, g.h, g.w, m).T);
  const floats = forwardTiles.positions * Math.max(tiles * Math.max(g.c, g.o), g.c * g.o);
  return floats * 4 <= ctx.limits.maxStorageBufferBindingSize;
}

/**
 * Item stride `is` and position stride `ps` of an α²-position operand over `items` (tiles or input
 * channels) of `channels` floats: blocked [α², items, channels] or interleaved [items, α², channels].
 * U and dW's M are interleaved (the α² stores of one filter stay close together: the filter
 * transform ran 1.6× faster at 512 channels); V, Y and the forward's M are blocked (interleaved,
 * they made the GEMM up to 25% slower). Measured on lavapipe.
 */
const blocked = (items: number, channels: number) => ({ is: channels, ps: items * channels });
const interleaved = (positions: number, channels: number) => ({ is: positions * channels, ps: channels });

/** The input transform V (blocked [α², T, C]) of the c planes of src (n images of h×w) under the m×m tiles of ho×wo outputs. */
function transformInput(
  ctx: GpuContext,
  m: WinogradTile,
  src: BufferRange,
  v: BufferRange,
  d: { n: number; c: number; h: number; w: number; ho: number; wo: number; top: number; left: number },
): void {
  const { tilesX, tilesPer, T } = tiling(d.n, d.ho, d.wo, m);
  const { c: k, h, w, top, left } = d;
  ctx.run(inputK(m), [src, v], { k, h, w, tilesX, tilesPer, top, left, total: T * k, ...blocked(T, k) });
}

/**
 * Floats of the forward's transformed input V of g ([α², T, C]): the forward can write it where
 * the caller keeps it, and dW, whose input transform is the same (same tiles, same Bᵀ), reads it
 * instead of transforming x again.
 */
export function inputTransformSize(g: ConvGeometry, m: WinogradTile): number {
  const { T, positions } = tiling(g.n, g.ho, g.wo, m);
  return positions * T * g.c;
}

/** Runs wc with m×m output tiles: src (input planes) and weight → out (+ bias), through temporaries it frees. */
export function runWinograd(
  ctx: GpuContext,
  wc: WinogradConv,
  m: WinogradTile,
  src: BufferRange,
  weight: BufferRange,
  out: BufferRange,
  bias: BufferRange | null,
  keepInput: BufferRange | null = null,
): void {
  const { tilesX, tilesPer, T, positions } = tiling(wc.n, wc.ho, wc.wo, m);
  const { cin: K, cout: N } = wc;
  const u = Storage.alloc(ctx, positions * K * N);
  // V goes to keepInput when given (inputTransformSize floats), for dW to reuse.
  const v = keepInput ? null : Storage.alloc(ctx, positions * T * K);
  const vRange = keepInput ?? v!.range;
  const mm = Storage.alloc(ctx, positions * T * N);
  try {
    const U = interleaved(positions, N);
    const V = blocked(T, K);
    const M = blocked(T, N);
    ctx.run(filterK(m), [weight, u.range], { n: N, total: K * N, ...U, ...wc.filter });
    transformInput(ctx, m, src, vRange, { n: wc.n, c: K, h: wc.h, w: wc.w, ho: wc.ho, wo: wc.wo, top: wc.top, left: wc.left });
    gemm(ctx, vRange, u.range, mm.range, {
      batch: positions, M: T, N, K,
      lda: V.is, strideA: V.ps,
      ldb: U.is, strideB: U.ps,
      ldc: M.is, strideC: M.ps,
    });
    const buffers = bias ? [mm.range, out, bias] : [mm.range, out];
    ctx.run(outputK(m, bias !== null), buffers, { n: N, ho: wc.ho, wo: wc.wo, tilesX, tilesPer, total: T * N, ...M });
  } finally {
    u.release();
    v?.release();
    mm.release();
  }
}

/**
 * dW of the 3×3 stride-1 convolution g by F(3×3, m×m): V (x's α×α patches under the m×m tiles of
 * dY: transformed here from `input`, or as the forward kept it, `transformed`) and Y (the
 * transformed dY tiles), then per position ξ the GEMM Mξ (C×O) = Vξᵀ (C×T) · Yξ (T×O), a reduction
 * over all tiles of all images, and the 3×3 output transform into dw [O, C, 3, 3].
 */
export function runWinogradWeightGrad(
  ctx: GpuContext,
  g: ConvGeometry,
  m: WinogradTile,
  x: { input: BufferRange } | { transformed: BufferRange },
  dy: BufferRange,
  dw: BufferRange,
): void {
  const { tilesX, tilesPer, T, positions } = tiling(g.n, g.ho, g.wo, m);
  const { c: C, o: O } = g;
  const v = 'input' in x ? Storage.alloc(ctx, positions * T * C) : null;
  const vRange = 'input' in x ? v!.range : x.transformed;
  const y = Storage.alloc(ctx, positions * T * O);
  const mm = Storage.alloc(ctx, positions * C * O);
  try {
    const V = blocked(T, C);
    const Y = blocked(T, O);
    const M = interleaved(positions, O);
    if ('input' in x) transformInput(ctx, m, x.input, vRange, { n: g.n, c: C, h: g.h, w: g.w, ho: g.ho, wo: g.wo, top: g.ph, left: g.pw });
    ctx.run(gradTileK(m), [dy, y.range], { n: O, ho: g.ho, wo: g.wo, tilesX, tilesPer, total: T * O, ...Y });
    gemm(ctx, vRange, y.range, mm.range, {
      batch: positions, M: C, N: O, K: T,
      lda: V.is, strideA: V.ps,
      ldb: Y.is, strideB: Y.ps,
      ldc: M.is, strideC: M.ps,
    }, { transA: true });
    ctx.run(filterGradK(m), [mm.range, dw], { n: O, k: C, total: C * O, ...M });
  } finally {
    v?.release();
    y.release();
    mm.release();
  }
}
