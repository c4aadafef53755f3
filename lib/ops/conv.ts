// conv2d (NCHW, float32, dilation 1) and its named backward passes, on the implicit GEMM kernels
// of kernels/conv2d.ts. Each pass prepares its operands (a zero-padded quad-layout copy of the
// input or of dY, the B operand gathered from the weight or from dY unless it already has the
// GEMM's layout; the offset table depends only on the geometry and is kept), runs one GEMM, and
// frees the temporaries (safe: the pool hands a buffer out again only for commands
// recorded later). 1×1 convolutions take the same path: with one tap the implicit GEMM is a plain
// batched GEMM. 3×3 stride-1 convolutions with enough channels run all three passes on
// Winograd's algorithm instead (conv-winograd.ts; `conv2dAlgorithm` says which path a shape takes).
import { igemmSubgroupKernel, MAX_GRID, subgroupTile, ticketTiles, type IgemmTile, type IgemmVariant } from '../../kernels/conv2d';
import { fallbackTile, igemmFallbackKernel } from '../../kernels/conv2d-fallback';
import { igemmNarrowKernel, narrowTile } from '../../kernels/conv2d-narrow';
import {
  convGeometry,
  forwardPlan,
  inputGradPlan,
  weightGradPlan,
  type ConvGeometry,
  type ConvOptionsResolved,
  type ConvPass,
  type GatherPlan,
  type GemmPlan,
  type IndexMap,
  type QuadPlan,
} from '../../kernels/conv2d-geometry';
import { gatherKernel, gatherQuadsContiguous, offsetsKernel, quadLayoutKernel } from '../../kernels/conv2d-prep';
import { ticketGrid, type KernelSpec } from '../../kernels/spec';
import { record } from '../autograd';
import { isGradEnabled } from '../state';
import type { BufferRange, GpuContext } from '../runtime/context';
import { Storage } from '../storage';
import { emptyTensor, type Tensor } from '../tensor';
import {
  forwardWinograd,
  inputGradWinograd,
  inputTransformSize,
  runWinograd,
  runWinogradWeightGrad,
  winogradApplies,
  winogradTile,
  type ConvPassName,
} from './conv-winograd';
import { reduceKeepdim } from './reduce';
import { checkInputs, fmt, memoKernel, rangeOf } from './util';

export interface Conv2dOptions {
  /** Step between output pixels: one number, or [vertical, horizontal]. Default 1. */
  stride?: number | readonly [number, number];
  /** Zeros added on each side: one number, or [vertical, horizontal]. Default 0. */
  padding?: number | readonly [number, number];
}

const quadsK = memoKernel(quadLayoutKernel);
const gatherK = memoKernel(gatherKernel);
const offsetsK = memoKernel(offsetsKernel);
const subgroupK = memoKernel(igemmSubgroupKernel);
const fallbackK = memoKernel(igemmFallbackKernel);
const narrowK = memoKernel(igemmNarrowKernel);

/**
 * Row quads per subgroup and subgroups per workgroup of the wide kernel, measured on lavapipe over
 * the ResNet-18 shapes (when its workgroups were its tiles): 5–6 quads (20–24 rows) tie and beat 4,
 * 7 and 8 quads by 5–10 %; 2 subgroups per workgroup beat 8 by 5–10 % and tie with 1 and 4.
 */
const WIDE_QUADS = 6;
const WIDE_SUBGROUPS = 2;

/** A subgroup holds at most one row quad per lane (SwiftShader's subgroups have 4 lanes). */
const wideQuads = (subgroupSize: number) => Math.min(WIDE_QUADS, subgroupSize);

/** Below this many output columns the narrow kernels (lanes over rows) waste less than the wide ones. */
const NARROW_COLS = 32;

/** Aim for at least this many workgroups in dW before splitting its reduction. */
const SPLIT_TARGET_GROUPS = 48;
/** Never split the reduction into chunks shorter than this. */
const SPLIT_MIN_CHUNK = 512;

function pair(op: string, name: string, v: number | readonly [number, number] | undefined, fallback: number, min: number): [number, number] {
  const p: [number, number] = v === undefined ? [fallback, fallback] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  const ok = (Array.isArray(v) ? v.length === 2 : true) && p.every((d) => Number.isInteger(d) && d >= min);
  if (!ok) throw new Error(`${op}: ${name} must be an integer ≥ ${min} or a pair of them, got ${JSON.stringify(v)}`);
  return p;
}

export function resolveConvOptions(op: string, options: Conv2dOptions): ConvOptionsResolved {
  const [sh, sw] = pair(op, 'stride', options.stride, 1, 1);
  const [ph, pw] = pair(op, 'padding', options.padding, 0, 0);
  return { sh, sw, ph, pw };
}

/** Checks the shapes of x and weight (and bias) and returns the geometry of the convolution. */
function checkConv(op: string, xShape: readonly number[], wShape: readonly number[], o: ConvOptionsResolved): ConvGeometry {
  if (xShape.length !== 4) throw new Error(`${op}: input must be [N, C, H, W], got ${fmt(xShape)}`);
  if (wShape.length !== 4) throw new Error(`${op}: weight must be [O, C, kh, kw], got ${fmt(wShape)}`);
  if ([...xShape, ...wShape].some((d) => d < 1)) {
    throw new Error(`${op}: input ${fmt(xShape)} and weight ${fmt(wShape)} must have no empty axis`);
  }
  if (xShape[1] !== wShape[1]) {
    throw new Error(`${op}: input ${fmt(xShape)} has ${xShape[1]} channels but weight ${fmt(wShape)} expects ${wShape[1]}`);
  }
  const hp = xShape[2]! + 2 * o.ph;
  const wp = xShape[3]! + 2 * o.pw;
  if (wShape[2]! > hp || wShape[3]! > wp) {
    throw new Error(
      `${op}: kernel ${wShape[2]}x${wShape[3]} of weight ${fmt(wShape)} is larger than the padded input ${hp}x${wp} (input ${fmt(xShape)}, padding [${o.ph}, ${o.pw}])`,
    );
  }
  return convGeometry(xShape, wShape, o);
}

function isNarrow(cols: number): boolean {
  return cols < NARROW_COLS;
}

/**
 * Launch limits of the GEMM kernels. `maxGridY` is the most row groups per launch in y before the
 * rest fold into z (narrow and plain kernels; the wide one hands out its tiles by tickets, in as
 * many workgroups as ctx.concurrentWorkgroups): the device limit (65535) unless a test lowers it to
 * cover the folding with small tensors (on lavapipe a tensor big enough to fold does not fit in one
 * binding).
 */
export const convLaunchLimits = { maxGridY: MAX_GRID };

/** How a kernel that hands out its tiles by tickets (the wide one) cuts a GEMM: subgroup size, quads per tile, subgroups per workgroup. */
interface Tickets {
  s: number;
  tq: number;
  wgy: number;
}

/**
 * The implicit-GEMM kernel that runs a GEMM with `cols` output columns on ctx, and its tile (the
 * tile sets the padding of K and the split-K plan, so both come from this one choice).
 */
function igemmFor(
  ctx: GpuContext,
  cols: number,
  variant: IgemmVariant = { bias: false, pixelStep: 1 },
): { tile: IgemmTile; spec: KernelSpec; tickets: Tickets | null } {
  const s = ctx.subgroupSize;
  const narrow = isNarrow(cols);
  const maxGridY = Math.min(MAX_GRID, convLaunchLimits.maxGridY);
  if (!s) return { tile: fallbackTile(narrow), spec: fallbackK(variant, narrow, maxGridY), tickets: null };
  if (narrow) return { tile: narrowTile(s), spec: narrowK(s, variant, maxGridY), tickets: null };
  const tq = wideQuads(s);
  return { tile: subgroupTile(s, tq, WIDE_SUBGROUPS), spec: subgroupK(s, variant, tq, WIDE_SUBGROUPS), tickets: { s, tq, wgy: WIDE_SUBGROUPS } };
}

const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

function mapUniforms(m: IndexMap) {
  return { d1: m.d1, d2: m.d2, s: [m.s[0], m.s[1], m.s[2], m.base] };
}

/** Runs the quad-layout copy of `src` into a new temporary storage; the caller releases it. */
function quadLayout(ctx: GpuContext, src: BufferRange, plan: QuadPlan): Storage {
  const out = Storage.alloc(ctx, plan.outer * plan.inner * plan.hp * plan.wp * 4);
  const { outer, ...dims } = plan;
  const vec4Rows = plan.colStep === 1 && [plan.w, plan.rowStep, plan.planeSize].every((v) => v % 4 === 0);
  ctx.run(quadsK(vec4Rows), [src, out.range], { rows: outer * plan.inner * plan.hp, ...dims });
  return out;
}

interface Split {
  chunk: number;
  splits: number;
}

/** How to cut a reduction of length k into `desired` (or fewer) chunks the kernel accepts. */
function splitK(tile: IgemmTile, k: number, desired: number): Split {
  const chunk = roundUp(Math.ceil(Math.max(k, 1) / desired), Math.max(tile.kMultiple, 8));
  return { chunk, splits: Math.ceil(Math.max(k, 1) / chunk) };
}

/** Few output tiles and a long reduction: split it so that the work fills the device. */
function weightGradSplit(tile: IgemmTile, quads: number, cols: number, k: number): Split {
  const groups = Math.ceil(quads / tile.rowsPerGroup) * Math.ceil(cols / tile.colsPerGroup);
  const desired = groups >= SPLIT_TARGET_GROUPS ? 1 : Math.min(Math.ceil(SPLIT_TARGET_GROUPS / groups), Math.floor(k / SPLIT_MIN_CHUNK));
  return splitK(tile, k, Math.max(1, desired));
}

/**
 * Whether a pass can store each column of a quad as one vec4 (IgemmVariant.vecOut): its 4 rows are
 * consecutive outputs (lane stride 1), every quad's out base, the column and split strides and the
 * output range are 4-aligned, and no live quad has a row past the end (laneLimit covers them all).
 * True for the 1×1 convolutions that read their input directly.
 */
function storesQuads(gemm: GemmPlan, out: BufferRange, splitStride: number): boolean {
  const groups = Math.ceil(gemm.quads / (gemm.outMap.d1 * gemm.outMap.d2));
  return (
    gemm.laneStride === 1 &&
    [gemm.colStride, splitStride, ...gemm.outMap.s, gemm.outMap.base].every((v) => v % 4 === 0) &&
    out.offset % 16 === 0 && out.size % 16 === 0 &&
    gemm.laneLimit >= 4 * groups
  );
}

/**
 * Per context, at most `offsetTables` kOff tables and `gatheredWeights` gathered weights (`keptB`)
 * are kept; past either limit that cache starts again. 0 keeps none (tests lower them).
 */
export const convCacheLimits = { offsetTables: 256, gatheredWeights: 256 };
const offsetTables = new WeakMap<GpuContext, Map<string, Storage>>();

/**
 * The kOff table of a pass (`total` entries: map(k) for k < rows, then zeros). It depends only on
 * the convolution's geometry, so it is built once per context and kept (a few KB for each
 * distinct pass): a training step or a benchmark loop skips that dispatch (lavapipe: 0.05–0.06 ms
 * and one dispatch per pass).
 */
function offsetTable(ctx: GpuContext, total: number, rows: number, map: IndexMap): BufferRange {
  let tables = offsetTables.get(ctx);
  if (!tables) offsetTables.set(ctx, (tables = new Map()));
  const key = `${total}:${rows}:${map.d1}:${map.d2}:${map.s.join(',')}:${map.base}`;
  let table = tables.get(key);
  if (!table) {
    if (tables.size >= convCacheLimits.offsetTables) {
      for (const old of tables.values()) old.release(); // the pool reuses them only for later commands
      tables.clear();
    }
    table = Storage.alloc(ctx, Math.max(total, 1));
    if (total > 0) ctx.run(offsetsK(), [table.range], { total, rows, ...mapUniforms(map) });
    tables.set(key, table);
  }
  return table.range;
}

/** The B operand of a forward pass gathered from a weight, kept while the weight does not change (see `keptB`). */
interface KeptB {
  /** Null while the weight changes between calls: its B is then gathered per call, and nothing is held. */
  storage: Storage | null;
  /** ctx.writeStamp of the weight's buffer at the last call. */
  stamp: number;
}

/** The B operands `keptB` holds per context: by the weight's buffer, then by the weight's range and the gather. */
const keptBs = new WeakMap<GpuContext, { byBuffer: Map<GPUBuffer, Map<string, KeptB>>; count: number }>();

/**
 * The forward's B operand (the weight gathered into the GEMM's [kPad, cols8] layout) for a weight
 * that is not being trained: a forward in inference (kNN features, a frozen backbone, a benchmark
 * loop) then skips the gather dispatch (lavapipe: ~0.06 ms and one dispatch per 1×1 convolution).
 * The copy is used while ctx.writeStamp says the weight's buffer has not been written since it was
 * gathered. A weight written between two calls (a momentum-updated key encoder) has its copy
 * released and is gathered per call; it is kept again once two calls in a row see it unchanged.
 * A forward that trains a weight releases the copies kept for its buffer (`dropKeptB`), so a model
 * back in training after an evaluation holds none. Null: gather per call as usual.
 */
function keptB(ctx: GpuContext, gather: GatherPlan, kPad: number, cols8: number, source: BufferRange, gatherInto: (wt: BufferRange) => void): BufferRange | null {
  let cache = keptBs.get(ctx);
  if (!cache) keptBs.set(ctx, (cache = { byBuffer: new Map(), count: 0 }));
  const { byBuffer } = cache;
  const limit = convCacheLimits.gatheredWeights;
  const clear = () => {
    for (const map of byBuffer.values()) for (const entry of map.values()) entry.storage?.release();
    byBuffer.clear();
    cache.count = 0;
  };
  if (limit === 0) {
    clear();
    return null;
  }
  const key = `${source.offset}:${source.size}:${kPad}:${cols8}:${gather.rows}:${gather.cols}:${gather.colStride}:${gather.map.d1}:${gather.map.d2}:${gather.map.s.join(',')}:${gather.map.base}`;
  const stamp = ctx.writeStamp(source.buffer);
  let kept = byBuffer.get(source.buffer)?.get(key);
  if (kept) {
    const unchanged = kept.stamp === stamp;
    kept.stamp = stamp;
    if (kept.storage && unchanged) return kept.storage.range;
    kept.storage?.release(); // commands recorded earlier still read it; the pool hands it out only for later ones
    kept.storage = null;
    if (!unchanged) return null;
  } else {
    if (cache.count >= limit) clear();
    kept = { storage: null, stamp };
    const map = byBuffer.get(source.buffer) ?? new Map<string, KeptB>();
    byBuffer.set(source.buffer, map.set(key, kept));
    cache.count++;
  }
  kept.storage = Storage.alloc(ctx, Math.max(kPad, 1) * cols8);
  gatherInto(kept.storage.range);
  return kept.storage.range;
}

/** Releases what `keptB` holds for weights in `buffer` (a weight being trained keeps nothing). */
function dropKeptB(ctx: GpuContext, buffer: GPUBuffer): void {
  const cache = keptBs.get(ctx);
  const entries = cache?.byBuffer.get(buffer);
  if (!cache || !entries) return;
  for (const entry of entries.values()) entry.storage?.release();
  cache.count -= entries.size;
  cache.byBuffer.delete(buffer);
}

/**
 * One implicit GEMM pass: takes kOff, builds B, then runs the GEMM into `out` (+ split·splitStride
 * for split s of `splits`). For the forward, `keepB` says whether B comes from `keptB` (true) or
 * the weight is being trained and keeps nothing (false).
 */
function runPass(
  ctx: GpuContext,
  pass: ConvPass,
  src: BufferRange,
  bSource: BufferRange,
  out: BufferRange,
  bias: BufferRange | null,
  split: Split | null = null,
  splitStride = 0,
  keepB?: boolean,
): void {
  const { gemm, gather } = pass;
  if (gemm.outMap.d1 !== gemm.rowMap.d1 || gemm.outMap.d2 !== gemm.rowMap.d2) {
    throw new Error('conv2d: internal error: the output map must split rows like the row map');
  }
  const { tile, spec, tickets } = igemmFor(ctx, gemm.cols, { bias: bias !== null, pixelStep: gemm.pixelStep, vecOut: storesQuads(gemm, out, splitStride) });
  const kPad = roundUp(gemm.k, tile.kMultiple);
  const cols8 = roundUp(gemm.cols, 8);
  const koff = offsetTable(ctx, kPad, gemm.k, gemm.kMap);
  const gatherInto = (wt: BufferRange) => {
    if (kPad === 0) return;
    const vec4Rows = gatherQuadsContiguous({ rows: gather.rows, colStride: gather.colStride, ...gather.map }, kPad);
    ctx.run(gatherK(vec4Rows), [bSource, wt], {
      total: kPad,
      cols4: cols8 / 4,
      rows: gather.rows,
      cols: gather.cols,
      colStride: gather.colStride,
      ...mapUniforms(gather.map),
    });
  };
  const inPlace = readsBInPlace(gather, kPad, cols8, bSource);
  if (!inPlace && keepB === false) dropKeptB(ctx, bSource.buffer);
  const kept = !inPlace && keepB ? keptB(ctx, gather, kPad, cols8, bSource, gatherInto) : null;
  const wt = inPlace || kept ? null : Storage.alloc(ctx, Math.max(kPad, 1) * cols8);
  if (wt) gatherInto(wt.range);
  const { chunk, splits } = split ?? splitK(tile, gemm.k, 1);
  const buffers = [src, koff, kept ?? (wt ? wt.range : bSource), out];
  if (bias) buffers.push(bias);
  const tiles = tickets ? ticketTiles(tickets.s, tickets.tq, { m: gemm.quads, cols: gemm.cols, splits, chunk }) : null;
  if (tiles) buffers.push(ctx.ticketCounters());
  ctx.run(spec, buffers, {
    ...tiles,
    m: gemm.quads,
    cols: gemm.cols,
    colsV4: cols8 / 4,
    k: gemm.k,
    chunk,
    splits,
    colStride: gemm.colStride,
    splitStride,
    laneStride: gemm.laneStride,
    laneLimit: gemm.laneLimit,
    d1: gemm.rowMap.d1,
    d2: gemm.rowMap.d2,
    rs: [...gemm.rowMap.s, gemm.rowMap.base],
    os: [...gemm.outMap.s, gemm.outMap.base],
  }, tiles && tickets ? ticketGrid(tiles.tiles, tickets.wgy, ctx.concurrentWorkgroups) : undefined);
  wt?.release();
}

/**
 * Whether a pass's GEMM can read B where it is: the gather would copy it unchanged, since the
 * source already is the zero-padded [kPad, cols8] array (dX of a 1×1 convolution: the weight
 * [O, C] with C a multiple of 8 and O of the k padding). Saves a dispatch and a copy. (Reading the
 * forward's weight [O, C·kh·kw] as columns, one vec4 of 4 k per column transposed in registers,
 * measured 10–60 % slower on lavapipe than gather + GEMM, so the forward keeps its gather.)
 */
function readsBInPlace(gather: GatherPlan, kPad: number, cols8: number, source: BufferRange): boolean {
  const { map } = gather;
  const rowMajor = map.d1 * map.d2 === 1 && map.base === 0 && map.s[0] === gather.cols && gather.colStride === 1; // B[k, col] = src[k·cols + col]
  return rowMajor && gather.cols === cols8 && gather.rows === kPad && source.offset % 16 === 0;
}

/** Runs fn on the quad-layout copy of x described by `plan` (on x itself for none), then releases the copy. */
function withQuads<T>(ctx: GpuContext, x: Tensor, plan: QuadPlan | null, fn: (src: BufferRange) => T): T {
  if (plan === null) return fn(rangeOf(x));
  const quads = quadLayout(ctx, rangeOf(x), plan);
  try {
    return fn(quads.range);
  } finally {
    quads.release();
  }
}

/**
 * The forward pass into a new tensor. With `keepTransformedInput` (the caller will need dW) and
 * Winograd on both passes, the forward's transformed input is returned too, for dW to reuse.
 */
function forwardRaw(
  ctx: GpuContext,
  g: ConvGeometry,
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null,
  keepTransformedInput = false,
): { out: Tensor; transformed: Tensor | null } {
  const out = emptyTensor(ctx, [g.n, g.o, g.ho, g.wo]);
  if (algorithmFor(ctx, g, 'forward') === 'winograd') {
    const keep = keepTransformedInput && algorithmFor(ctx, g, 'weightGrad') === 'winograd';
    const transformed = keep ? emptyTensor(ctx, [inputTransformSize(g, winogradTile())]) : null;
    const wc = forwardWinograd(g);
    runWinograd(ctx, wc, winogradTile(), rangeOf(x), rangeOf(weight), rangeOf(out), bias ? rangeOf(bias) : null, transformed ? rangeOf(transformed) : null);
    return { out, transformed };
  }
  const { layout, pass } = forwardPlan(g);
  const weightTrains = isGradEnabled() && weight.requiresGrad;
  withQuads(ctx, x, layout, (src) => runPass(ctx, pass, src, rangeOf(weight), rangeOf(out), bias ? rangeOf(bias) : null, null, 0, !weightTrains));
  return { out, transformed: null };
}

/** dL/dx of conv2d for the output gradient dy. Not differentiable itself. */
export function conv2dBackwardInput(dy: Tensor, weight: Tensor, xShape: readonly number[], options: Conv2dOptions = {}): Tensor {
  const op = 'conv2dBackwardInput';
  const ctx = checkInputs(op, dy, weight);
  const g = checkConv(op, xShape, weight.shape, resolveConvOptions(op, options));
  checkOutputGrad(op, dy, g);
  const dx = emptyTensor(ctx, xShape);
  if (algorithmFor(ctx, g, 'inputGrad') === 'winograd') {
    runWinograd(ctx, inputGradWinograd(g), winogradTile(), rangeOf(dy), rangeOf(weight), rangeOf(dx), null);
    return dx;
  }
  const plan = inputGradPlan(g);
  // Phases that no tap reaches (a 1×1 kernel with stride 2) get zeros: clear once, skip them.
  if (plan.passes.some((pass) => pass.gemm.k === 0)) ctx.clear(rangeOf(dx));
  withQuads(ctx, dy, plan.layout, (src) => {
    for (const pass of plan.passes) {
      if (pass.gemm.k > 0) runPass(ctx, pass, src, rangeOf(weight), rangeOf(dx), null);
    }
  });
  return dx;
}

/** dW on the Winograd path, from x or from the forward's transformed x, into a new tensor. */
function winogradWeightGrad(ctx: GpuContext, g: ConvGeometry, dy: Tensor, x: { input: BufferRange } | { transformed: BufferRange }): Tensor {
  const dw = emptyTensor(ctx, g2shape(g, 'w'));
  runWinogradWeightGrad(ctx, g, winogradTile(), x, rangeOf(dy), rangeOf(dw));
  return dw;
}

/** dL/dweight of conv2d for the output gradient dy and the input x. Not differentiable itself. */
export function conv2dBackwardWeight(dy: Tensor, x: Tensor, wShape: readonly number[], options: Conv2dOptions = {}): Tensor {
  const op = 'conv2dBackwardWeight';
  const ctx = checkInputs(op, dy, x);
  const g = checkConv(op, x.shape, wShape, resolveConvOptions(op, options));
  checkOutputGrad(op, dy, g);
  if (algorithmFor(ctx, g, 'weightGrad') === 'winograd') return winogradWeightGrad(ctx, g, dy, { input: rangeOf(x) });
  const { layout, pass } = weightGradPlan(g);
  const split = weightGradSplit(igemmFor(ctx, pass.gemm.cols).tile, pass.gemm.quads, pass.gemm.cols, pass.gemm.k);
  if (split.splits === 1) {
    const dw = emptyTensor(ctx, wShape);
    withQuads(ctx, x, layout, (src) => runPass(ctx, pass, src, rangeOf(dy), rangeOf(dw), null));
    return dw;
  }
  // Split-K: each split writes its own [O, C·kh·kw] slice, then one reduction sums the slices.
  const size = g.o * g.c * g.kh * g.kw;
  const parts = emptyTensor(ctx, [split.splits, size]);
  withQuads(ctx, x, layout, (src) => runPass(ctx, pass, src, rangeOf(dy), rangeOf(parts), null, split, size));
  const summed = reduceKeepdim('sum', parts, [0]);
  parts.dispose();
  const dw = summed.handle(wShape);
  summed.dispose();
  return dw;
}

/** dL/dbias of conv2d: dy summed over N, H and W. */
export function conv2dBackwardBias(dy: Tensor): Tensor {
  checkInputs('conv2dBackwardBias', dy);
  if (dy.rank !== 4) throw new Error(`conv2dBackwardBias: gradient must be [N, O, H, W], got ${fmt(dy.shape)}`);
  const kept = reduceKeepdim('sum', dy, [0, 2, 3]);
  const db = kept.handle([dy.shape[1]!]);
  kept.dispose();
  return db;
}

function checkOutputGrad(op: string, dy: Tensor, g: ConvGeometry): void {
  const want = [g.n, g.o, g.ho, g.wo];
  if (dy.shape.join() !== want.join()) {
    throw new Error(`${op}: output gradient ${fmt(dy.shape)} does not match the convolution's output ${fmt(want)}`);
  }
}

/**
 * 2-D convolution: x [N, C, H, W] * weight [O, C, kh, kw] (+ bias [O]) → [N, O, Ho, Wo] with
 * Ho = floor((H + 2·padding − kh) / stride) + 1. Records dX, dW and db for the inputs that need them.
 */
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  const ctx = bias ? checkInputs(op, x, weight, bias) : checkInputs(op, x, weight);
  const resolved = resolveConvOptions(op, options);
  const g = checkConv(op, x.shape, weight.shape, resolved);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== g.o)) {
    throw new Error(`${op}: bias must be [${g.o}] for weight ${fmt(weight.shape)}, got ${fmt(bias.shape)}`);
  }
  const needX = x.requiresGrad;
  const needW = weight.requiresGrad;
  const needB = bias?.requiresGrad ?? false;
  // dW needs x, or on the Winograd path the forward's transformed x (kept instead of x).
  const { out, transformed } = forwardRaw(ctx, g, x, weight, bias, needW && isGradEnabled());
  const saved = [...(needW ? [transformed ?? x] : []), ...(needX ? [weight] : [])];
  const inputs = bias ? [x, weight, bias] : [x, weight];
  const result = record(
    op,
    out,
    inputs,
    (gy, keep) => {
      const sx = needW ? keep[0]! : null;
      const sw = needX ? keep[needW ? 1 : 0]! : null;
      const dx = sw ? conv2dBackwardInput(gy, sw, g2shape(g, 'x'), options) : null;
      let dw: Tensor | null = null;
      if (sx) {
        dw = transformed
          ? winogradWeightGrad(ctx, g, gy, { transformed: rangeOf(sx) })
          : conv2dBackwardWeight(gy, sx, g2shape(g, 'w'), options);
      }
      const grads = [dx, dw];
      if (bias) grads.push(needB ? conv2dBackwardBias(gy) : null);
      return grads;
    },
    saved,
  );
  transformed?.dispose(); // the graph holds its own handle
  return result;
}

function g2shape(g: ConvGeometry, which: 'x' | 'w'): number[] {
  return which === 'x' ? [g.n, g.c, g.h, g.w] : [g.o, g.c, g.kh, g.kw];
}

/** Output shape of conv2d for these shapes and options (throws like conv2d on bad input). */
export function conv2dOutputShape(xShape: readonly number[], wShape: readonly number[], options: Conv2dOptions = {}): number[] {
  const o = resolveConvOptions('conv2d', options);
  const g = checkConv('conv2d', xShape, wShape, o);
  return [g.n, g.o, g.ho, g.wo];
}

/** How conv2d's passes run: Winograd (3×3 stride 1, see conv-winograd.ts) or the implicit GEMM. */
export type ConvAlgorithm = 'winograd' | 'implicit-gemm';

function algorithmFor(ctx: GpuContext, g: ConvGeometry, pass: ConvPassName): ConvAlgorithm {
  return winogradApplies(ctx, g, pass) ? 'winograd' : 'implicit-gemm';
}

/**
 * The algorithm of one pass of conv2d (forward, dX or dW) for these shapes on ctx, with its
 * Winograd tile size (exposed for tests and benchmarks).
 */
export function conv2dAlgorithm(
  ctx: GpuContext,
  xShape: readonly number[],
  wShape: readonly number[],
  options: Conv2dOptions = {},
  pass: ConvPassName = 'forward',
): { algorithm: ConvAlgorithm; tile?: number } {
  const g = checkConv('conv2d', xShape, wShape, resolveConvOptions('conv2d', options));
  const algorithm = algorithmFor(ctx, g, pass);
  return algorithm === 'winograd' ? { algorithm, tile: winogradTile() } : { algorithm };
}

/** How many slices conv2dBackwardWeight splits its reduction into on `ctx` (exposed for tests). */
export function planWeightGradSplit(
  ctx: GpuContext,
  xShape: readonly number[],
  wShape: readonly number[],
  options: Conv2dOptions = {},
): number {
  const g = checkConv('conv2dBackwardWeight', xShape, wShape, resolveConvOptions('conv2dBackwardWeight', options));
  const { gemm } = weightGradPlan(g).pass;
  return weightGradSplit(igemmFor(ctx, gemm.cols).tile, gemm.quads, gemm.cols, gemm.k).splits;
}
