// Matrix products: `gemm` (the low-level batched, strided GEMM on buffer ranges behind `matmul`
// and `bmm`), and the differentiable ops `matmul` (2-D) and `bmm`
// (3-D, a batch of 1 on either side broadcasts). Backward runs through the same kernels with
// transpose flags, never through transpose copies:
//   C = op(A)·op(B):  dA = dC·op(B)ᵀ (A plain) or op(B)·dCᵀ (A transposed),
//                     dB = op(A)ᵀ·dC (B plain) or dCᵀ·op(A) (B transposed),
// and a broadcast batch operand gets the sum of its per-batch gradients.
import { subgroupGemmKernel, subgroupGemmTiles, type BLoad } from '../../kernels/matmul';
import { ticketGrid } from '../../kernels/spec';
import { tiledGemmKernel } from '../../kernels/matmul-tiled';
import { transposeKernel } from '../../kernels/transpose';
import { reduceColumnsKernel } from '../../kernels/reduce';
import { record } from '../autograd';
import type { BufferRange, GpuContext } from '../runtime/context';
import { Storage } from '../storage';
import { emptyTensor, type Tensor } from '../tensor';
import { reduceKeepdim } from './reduce';
import { checkInputs, fmt, memoKernel, rangeOf, rangesOverlap } from './util';

export interface MatmulOptions {
  /** Use the transpose of the first operand. */
  transA?: boolean;
  /** Use the transpose of the second operand. */
  transB?: boolean;
}

/** Sizes and layout of a (batched) GEMM; every number is in f32 elements. */
export interface GemmDims {
  /** Number of products (default 1). */
  batch?: number;
  /** op(A) is M×K, op(B) is K×N, C is M×N. */
  M: number;
  N: number;
  K: number;
  /** Row strides of the stored A, B, C (default: packed, i.e. the stored row length). */
  lda?: number;
  ldb?: number;
  ldc?: number;
  /** Where matrix 0 starts inside each range (default 0). */
  offsetA?: number;
  offsetB?: number;
  offsetC?: number;
  /** Distance between consecutive matrices of the batch (default: packed; 0 broadcasts A or B). */
  strideA?: number;
  strideB?: number;
  strideC?: number;
}

export interface GemmFlags {
  /** A is stored K×M (read transposed). */
  transA?: boolean;
  /** B is stored N×K (read transposed). */
  transB?: boolean;
  /** Add the product to C instead of overwriting it. */
  accumulate?: boolean;
  /** Scale of the product (default 1): C = alpha·op(A)·op(B) (+ C). */
  alpha?: number;
}

const subgroupK = memoKernel(subgroupGemmKernel);
const tiledK = memoKernel(tiledGemmKernel);
const transposeK = memoKernel(transposeKernel);
const sumColumnsK = memoKernel(reduceColumnsKernel);

interface Placed {
  offset: number;
  ld: number;
  stride: number;
  rows: number;
  cols: number;
}

const four = (...xs: number[]) => xs.every((x) => x % 4 === 0);

/** Most subgroups in one workgroup of the register-tile kernel (runSubgroupGemm says why). */
const GEMM_SUBGROUPS = 2;

function checkCount(name: string, v: number, min = 0): void {
  if (!Number.isInteger(v) || v < min || v > 0xffffffff) throw new Error(`gemm: ${name} must be an integer ≥ ${min}, got ${v}`);
}

/**
 * Whether a stored operand can be read as vec4 rows: 4-aligned rows, and the last vec4 of a row,
 * which may reach past its end up to the next multiple of 4, still inside the range.
 */
function vec4Rows(m: Placed, batch: number, range: BufferRange): boolean {
  return range.size % 16 === 0 && four(m.offset, m.ld, batch > 1 ? m.stride : 0) && extent(m, batch, Math.ceil(m.cols / 4) * 4) * 4 <= range.size;
}

/** Index one past the last element a batched strided matrix touches (rows·cols > 0). */
function extent(m: Placed, batch: number, rowLength = m.cols): number {
  return m.offset + (batch - 1) * m.stride + (m.rows - 1) * m.ld + rowLength;
}

function describe(d: Required<GemmDims>, f: GemmFlags): string {
  return `batch ${d.batch}, M ${d.M}, N ${d.N}, K ${d.K}${f.transA ? ', transA' : ''}${f.transB ? ', transB' : ''}`;
}

/**
 * C = alpha·op(A)·op(B) (+ C with `accumulate`) for `batch` matrices at strided places of the
 * three buffer ranges. A batch sharing one B, with A's and C's matrices stacked row after row, runs
 * as one product of batch·M rows. Without subgroups: one dispatch of the workgroup-tiled kernel.
 * With them, the register-tile kernel (vec4 access of B and C where they are 4-aligned), in one
 * dispatch except where a shape gains from a different plan:
 * - one product with few output tiles and a long K: split-K (splitKFor), then one summing pass;
 * - a transposed B when M ≥ TRANSPOSE_B_MIN_ROWS: B copied row-major first (kernels/transpose.ts).
 */
export function gemm(ctx: GpuContext, a: BufferRange, b: BufferRange, out: BufferRange, dims: GemmDims, flags: GemmFlags = {}): void {
  const transA = flags.transA ?? false;
  const transB = flags.transB ?? false;
  const accumulate = flags.accumulate ?? false;
  const alpha = flags.alpha ?? 1;
  const { M, N, K } = dims;
  const batch = dims.batch ?? 1;
  const A: Placed = {
    rows: transA ? K : M,
    cols: transA ? M : K,
    offset: dims.offsetA ?? 0,
    ld: dims.lda ?? (transA ? M : K),
    stride: dims.strideA ?? M * K,
  };
  const B: Placed = {
    rows: transB ? N : K,
    cols: transB ? K : N,
    offset: dims.offsetB ?? 0,
    ld: dims.ldb ?? (transB ? K : N),
    stride: dims.strideB ?? K * N,
  };
  const C: Placed = { rows: M, cols: N, offset: dims.offsetC ?? 0, ld: dims.ldc ?? N, stride: dims.strideC ?? M * N };
  // Checked in this order (M, N, K, batch first) before any use; A, B, C above are only arithmetic.
  const full: Required<GemmDims> = {
    M, N, K, batch,
    lda: A.ld, ldb: B.ld, ldc: C.ld,
    offsetA: A.offset, offsetB: B.offset, offsetC: C.offset,
    strideA: A.stride, strideB: B.stride, strideC: C.stride,
  };
  for (const [name, v] of Object.entries(full)) checkCount(name, v);
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw new Error(`gemm: alpha must be a finite number, got ${alpha}`);
  const what = () => describe(full, flags);
  for (const [name, m] of [['A', A], ['B', B], ['C', C]] as const) {
    if (m.rows > 1 && m.ld < m.cols) {
      throw new Error(`gemm (${what()}): ld${name.toLowerCase()} = ${m.ld} is less than the stored row length ${m.cols} of ${name}`);
    }
  }
  // The output matrices may follow one another, or interleave row by row (each row of matrix b
  // at b·strideC within a row block of ldc), but never overlap.
  const sequential = C.stride >= extent({ ...C, offset: 0 }, 1);
  const interleaved = C.stride >= N && (batch - 1) * C.stride + N <= C.ld;
  if (batch > 1 && M * N > 0 && !sequential && !interleaved) {
    throw new Error(`gemm (${what()}): strideC = ${C.stride} makes the ${batch} output matrices (${M}×${N}, ldc ${C.ld}) overlap`);
  }
  if (batch * M * N === 0) return;
  const used: [string, Placed, BufferRange][] = K > 0 ? [['A', A, a], ['B', B, b], ['C', C, out]] : [['C', C, out]];
  for (const [name, m, range] of used) {
    const end = extent(m, batch);
    if (end * 4 > range.size) {
      throw new Error(`gemm (${what()}): ${name} needs ${end} floats but its buffer range holds ${Math.floor(range.size / 4)}`);
    }
  }
  if (K > 0 && (rangesOverlap(out, a) || rangesOverlap(out, b))) {
    throw new Error(`gemm (${what()}): the output range overlaps an input range (C must not alias A or B)`);
  }

  const uniforms = {
    M, N, K, batch,
    lda: A.ld, ldb: B.ld, ldc: C.ld,
    offA: A.offset, offB: B.offset, offC: C.offset,
    strideA: A.stride, strideB: B.stride, strideC: C.stride,
    alpha,
  };
  if (batch > 1 && B.stride === 0 && !transA && A.stride === M * A.ld && C.stride === M * C.ld) {
    // One B for every batch, A and C batches stacked row after row: one product of batch·M rows.
    gemm(ctx, a, b, out, { M: batch * M, N, K, lda: A.ld, ldb: B.ld, ldc: C.ld, offsetA: A.offset, offsetB: B.offset, offsetC: C.offset }, flags);
    return;
  }
  const S = ctx.subgroupSize;
  if (!S) {
    ctx.run(tiledK({ transA, transB, accumulate }), [a, b, out], uniforms);
    return;
  }
  const splits = splitKFor(S, M, N, K, batch, accumulate, C);
  if (splits > 1) {
    // Split-K: `splits` partial products as a batch (each over K / splits of the reduction,
    // alpha applied), then one pass summing them into C.
    const chunk = K / splits;
    const partials = Storage.alloc(ctx, splits * M * N);
    try {
      gemm(ctx, a, b, partials.range, {
        batch: splits, M, N, K: chunk,
        lda: A.ld, ldb: B.ld, ldc: N,
        offsetA: A.offset, offsetB: B.offset, offsetC: 0,
        strideA: transA ? chunk * A.ld : chunk,
        strideB: transB ? chunk : chunk * B.ld,
        strideC: M * N,
      }, { transA, transB, alpha });
      ctx.run(sumColumnsK('sum'), [partials.range, out], { outer: 1, r: splits, inner: M * N, scale: 1 });
    } finally {
      partials.release();
    }
    return;
  }
  // A's stored rows readable as vec4 (see SubgroupGemmConfig.aVec; runSubgroupGemm adds its conditions).
  const vecA = K > 0 && vec4Rows(A, batch, a);
  if (transB && M >= TRANSPOSE_B_MIN_ROWS && K > 0) {
    // op(B) copied once into a row-major [K, N rounded up to 4] array per batch: the register-tile
    // kernel then reads it as vec4 rows (consecutive lanes, consecutive addresses). The copy costs
    // one pass over B; the transposed read made the GEMM up to 2× slower (1024³ transB: 139–155 ms
    // that way, 100 ms with the copy, same run).
    const batchB = B.stride === 0 ? 1 : batch;
    const ldb = Math.ceil(N / 4) * 4;
    const copy = Storage.alloc(ctx, batchB * K * ldb);
    try {
      ctx.run(transposeK(), [b, copy.range], {
        rows: N, cols: K, ld: B.ld, off: B.offset, stride: B.stride, batch: batchB,
        rows4: ldb / 4, cols4: Math.ceil(K / 4), rowsPad: ldb,
      });
      const rowMajor = { ...uniforms, ldb, offB: 0, strideB: batchB === 1 ? 0 : K * ldb };
      runSubgroupGemm(ctx, S, a, copy.range, out, rowMajor, { transA, transB: false, accumulate }, 'vecN', vecA);
    } finally {
      copy.release();
    }
    return;
  }
  // vec4 reads of B: its stored rows (columns of op(B) when transposed) as vec4.
  const vecB = K > 0 && vec4Rows(B, batch, b);
  const bLoad = !vecB || (transB && S % 4 !== 0) ? 'scalar' : transB ? 'vecK' : 'vecN';
  runSubgroupGemm(ctx, S, a, b, out, uniforms, { transA, transB, accumulate }, bLoad, vecA);
}

/**
 * Split-K for a single product with few output tiles and a long reduction (64×4096×64 fills one
 * workgroup, so one of lavapipe's threads): as many equal chunks of K, each at least
 * SPLIT_K_MIN_CHUNK long, as bring the tiles up to SPLIT_K_TARGET_TILES (on lavapipe 2 chunks
 * already gave the whole gain there, 2.0 → 1.35 ms; more keep a many-core device busy). Only
 * where C is one dense matrix at the start of its range and is overwritten (the partial sums are
 * added into it by one dense pass). 1: no split.
 */
export function splitKFor(S: number, M: number, N: number, K: number, batch = 1, accumulate = false, C: Pick<Placed, 'offset' | 'ld'> = { offset: 0, ld: N }): number {
  if (batch !== 1 || accumulate || C.offset !== 0 || C.ld !== N) return 1;
  const tiles = Math.ceil(M / 64) * Math.ceil(N / (S * 8));
  const desired = Math.min(Math.ceil(SPLIT_K_TARGET_TILES / tiles), Math.floor(K / SPLIT_K_MIN_CHUNK));
  for (let s = desired; s > 1; s--) if (K % s === 0) return s;
  return 1;
}

const SPLIT_K_TARGET_TILES = 8;
const SPLIT_K_MIN_CHUNK = 256;

/**
 * A transposed B (op(B) = Bᵀ) is copied into row-major form first when op(A) has at least this
 * many rows: below that, the copy (a pass over B) costs more than the faster reads save.
 */
export const TRANSPOSE_B_MIN_ROWS = 32;

type GemmUniforms = Record<'M' | 'N' | 'K' | 'batch' | 'lda' | 'ldb' | 'ldc' | 'offA' | 'offB' | 'offC' | 'strideA' | 'strideB' | 'strideC' | 'alpha', number>;

/** The register-tile kernel with subgroup shuffles, its tile chosen for the shape. */
function runSubgroupGemm(
  ctx: GpuContext,
  S: number,
  a: BufferRange,
  b: BufferRange,
  out: BufferRange,
  u: GemmUniforms,
  kernelFlags: Required<Omit<GemmFlags, 'alpha'>>,
  bLoad: BLoad,
  vecA: boolean,
): void {
  const vecC = out.size % 16 === 0 && four(u.N, u.offC, u.ldc, u.batch > 1 ? u.strideC : 0);
  // Subgroups smaller than 8 (SwiftShader, Chromium's software WebGPU, has 4): 8×8 register
  // tiles. SwiftShader takes minutes to compile the 16×8 and 16×16 tiles, or loses the device.
  // With S ≥ 8, 16 rows per invocation, and:
  // - K a multiple of S (evenK: a constant inner loop, two k per iteration for row-major B):
  //   8 columns. Same process on lavapipe, against 16 columns and the loop to min(S, K − k0):
  //   1024³ 54–55 → 49.5 ms, 36×(128×256·256×256) 17.4–18.6 → 16.1 ms, 32×(128×64·64×128)
  //   2.25–2.28 → 2.12–2.16 ms, 8×256³ 7.6 → 6.7 ms.
  // - otherwise 16 columns when N is wide enough to fill them (fewer A loads and shuffles per
  //   FMA: 2-10% faster on the bmm target with odd K, 0-25% on 4096×64×4096; at N = 32 or 64 it
  //   was 1.5-1.9× slower, idle lanes), else 8.
  // Small products: a workgroup whose rows or columns lie mostly past the matrix still costs
  // lavapipe most of a full one, so the tile shrinks to the matrix: 4 columns per invocation when
  // S·4 covers N, and no more subgroups than M needs (128×(32×32·32×32): 1.2 → 0.77 ms).
  // With S ≥ 8, workgroups of at most GEMM_SUBGROUPS subgroups (64 invocations below that):
  // lavapipe hands whole workgroups to its threads, and smaller ones balanced better when the
  // workgroups were the tiles (the kernel shares nothing across subgroups; since the tiles are
  // drawn by tickets, a launch has one workgroup per thread there). Same process, interleaved, GPU
  // time with 8 / 4 / 2 / 1 subgroups per workgroup (S = 8), before tickets: 1024³ 39.8 / 40.1 / 38.0 / 38.7 ms,
  // 8×256³ 5.61 / 5.55 / 5.24 / 5.39 ms, 32×(128×64·64×128) 1.65 / 1.67 / 1.58 / 1.61 ms,
  // 64×4096×64 0.85 / 0.84 / 0.79 / 0.82 ms, 128×(32×32·32×32) 0.50 / 0.48 / 0.45 / 0.47 ms.
  const small = S < 8;
  const evenK = !small && u.K % S === 0;
  const tm = small ? 8 : 16;
  const tn = small ? 8 : u.N <= 4 * S ? 4 : bLoad === 'vecN' && u.N > 64 && !evenK ? 16 : 8;
  const maxSubgroups = small ? Math.floor(64 / S) : Math.min(GEMM_SUBGROUPS, Math.floor(64 / S));
  const wy = Math.max(1, Math.min(maxSubgroups, Math.ceil(u.M / tm)));
  // op(A) as vec4 (SubgroupGemmConfig.aVec) where A's stored rows are: along M for a transposed
  // A, along K when K is a multiple of S.
  const aVec = vecA && S % 4 === 0 && (kernelFlags.transA || evenK);
  const tiles = subgroupGemmTiles(S, tm, tn, u);
  if (tiles.tiles >= 2 ** 31) throw new Error(`matmul: ${tiles.tiles} output tiles of ${tm}×${S * tn} in one launch (M ${u.M}, N ${u.N}, batch ${u.batch}); at most 2^31`);
  const spec = subgroupK({ subgroupSize: S, bLoad, vecC, ...kernelFlags, tm, tn, wy, evenK, ...(aVec ? { aVec } : {}) });
  ctx.run(spec, [a, b, out, ctx.ticketCounters()], { ...u, ...tiles }, ticketGrid(tiles.tiles, wy, ctx.concurrentWorkgroups));
}

/** [batch, rows, cols] of a stored operand (a 2-D tensor is one matrix). */
type Dims3 = [number, number, number];

function dims3(t: Tensor): Dims3 {
  return t.rank === 2 ? [1, t.shape[0]!, t.shape[1]!] : [t.shape[0]!, t.shape[1]!, t.shape[2]!];
}

/**
 * op(x)·op(y) for x, y viewed as [batch, rows, cols] (a batch of 1 broadcasts), into a new
 * tensor of `outShape` (batch·M·N elements). No gradient tracking.
 */
function product(x: Tensor, sx: Dims3, y: Tensor, sy: Dims3, tx: boolean, ty: boolean, outShape: number[]): Tensor {
  const ctx = x.ctx;
  const [bx, rx, cx] = sx;
  const [by, ry, cy] = sy;
  const M = tx ? cx : rx;
  const K = tx ? rx : cx;
  const N = ty ? ry : cy;
  const batch = Math.max(bx, by);
  const out = emptyTensor(ctx, outShape);
  gemm(
    ctx,
    rangeOf(x),
    rangeOf(y),
    rangeOf(out),
    { batch, M, N, K, lda: cx, ldb: cy, ldc: N, strideA: bx === 1 ? 0 : rx * cx, strideB: by === 1 ? 0 : ry * cy, strideC: M * N },
    { transA: tx, transB: ty },
  );
  return out;
}

/** Like `product`, summed over the batch when the result belongs to a broadcast (batch 1) operand. */
function productFor(target: Dims3, outBatch: number, shape: readonly number[], ...args: Parameters<typeof product>): Tensor {
  if (target[0] === outBatch) return product(...args);
  const [x, sx, y, sy, tx, ty] = args;
  const perBatch = product(x, sx, y, sy, tx, ty, [outBatch, target[1], target[2]]);
  const summed = reduceKeepdim('sum', perBatch, [0]);
  perBatch.dispose();
  const out = summed.handle(shape);
  summed.dispose();
  return out;
}

function readOptions(op: string, options: MatmulOptions | undefined): { transA: boolean; transB: boolean } {
  const o = options ?? {};
  if (typeof o !== 'object') throw new Error(`${op}: options must be an object like { transA, transB }, got ${String(o)}`);
  for (const key of Object.keys(o)) {
    if (key !== 'transA' && key !== 'transB') throw new Error(`${op}: unknown option '${key}' (expected transA, transB)`);
  }
  for (const key of ['transA', 'transB'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw new Error(`${op}: option ${key} must be a boolean, got ${String(o[key])}`);
  }
  return { transA: o.transA ?? false, transB: o.transB ?? false };
}

function describeOperand(t: Tensor, transposed: boolean): string {
  return `${fmt(t.shape)}${transposed ? ' (transposed)' : ''}`;
}

/** The differentiable product of two [batch, rows, cols] operands (rank 2 or 3 each, same rank). */
function differentiableProduct(op: string, a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  const sa = dims3(a);
  const sb = dims3(b);
  const M = transA ? sa[2] : sa[1];
  const K = transA ? sa[1] : sa[2];
  const Kb = transB ? sb[2] : sb[1];
  const N = transB ? sb[1] : sb[2];
  if (K !== Kb) {
    throw new Error(
      `${op}: inner sizes differ: a ${describeOperand(a, transA)} has ${K} columns, b ${describeOperand(b, transB)} has ${Kb} rows`,
    );
  }
  const batch = Math.max(sa[0], sb[0]);
  const outShape = a.rank === 2 ? [M, N] : [batch, M, N];
  const out = product(a, sa, b, sb, transA, transB, outShape);

  const needA = a.requiresGrad;
  const needB = b.requiresGrad;
  const aShape = [...a.shape];
  const bShape = [...b.shape];
  const so: Dims3 = [batch, M, N];
  const saved: Tensor[] = [];
  if (needA) saved.push(b);
  if (needB) saved.push(a);
  return record(
    op,
    out,
    [a, b],
    (g, s) => {
      let i = 0;
      const sB = needA ? s[i++]! : null;
      const sA = needB ? s[i++]! : null;
      let gA: Tensor | null = null;
      let gB: Tensor | null = null;
      if (sB) {
        gA = transA
          ? productFor(sa, batch, aShape, sB, sb, g, so, transB, true, aShape)
          : productFor(sa, batch, aShape, g, so, sB, sb, false, !transB, aShape);
      }
      if (sA) {
        if (sb[0] !== batch && !transA && sa[0] === batch) {
          // B broadcast over a batch of plain A: the batch folds into the contraction, one GEMM.
          const rows: Dims3 = [1, batch * M, K];
          const grads: Dims3 = [1, batch * M, N];
          gB = transB ? product(g, grads, sA, rows, true, false, bShape) : product(sA, rows, g, grads, true, false, bShape);
        } else {
          gB = transB
            ? productFor(sb, batch, bShape, g, so, sA, sa, true, transA, bShape)
            : productFor(sb, batch, bShape, sA, sa, g, so, !transA, false, bShape);
        }
      }
      return [gA, gB];
    },
    saved,
  );
}

/** a·b for 2-D a ([M,K], or [K,M] with transA) and b ([K,N], or [N,K] with transB) → [M,N]. */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  checkInputs('matmul', a, b);
  const { transA, transB } = readOptions('matmul', options);
  if (a.rank !== 2 || b.rank !== 2) {
    throw new Error(`matmul: expected two 2-D tensors, got a ${fmt(a.shape)} and b ${fmt(b.shape)} (use bmm for batches)`);
  }
  return differentiableProduct('matmul', a, b, transA, transB);
}

/**
 * Batched a·b: a [B,M,K] (or [B,K,M] with transA), b [B,K,N] (or [B,N,K] with transB) → [B,M,N].
 * A batch size of 1 on either side is broadcast over the other's batch.
 */
export function bmm(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  checkInputs('bmm', a, b);
  const { transA, transB } = readOptions('bmm', options);
  if (a.rank !== 3 || b.rank !== 3) {
    throw new Error(`bmm: expected two 3-D tensors [batch, rows, cols], got a ${fmt(a.shape)} and b ${fmt(b.shape)}`);
  }
  const ba = a.shape[0]!;
  const bb = b.shape[0]!;
  if (ba !== bb && ba !== 1 && bb !== 1) {
    throw new Error(`bmm: batch sizes differ: a ${fmt(a.shape)} has ${ba}, b ${fmt(b.shape)} has ${bb} (they must be equal, or one of them 1)`);
  }
  return differentiableProduct('bmm', a, b, transA, transB);
}
