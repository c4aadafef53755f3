// What the two GEMM kernels (matmul.ts: register tiles + subgroup shuffles; matmul-tiled.ts:
// workgroup-shared tiles, no subgroups) have in common: the uniform fields, the index math of
// strided, optionally transposed, batched operands, and the epilogue.
//
// Math: for every batch b < batch,
//   C_b = alpha · op(A_b) · op(B_b)  (+ C_b when compiled with `accumulate`),
//   op(A_b) is M×K, op(B_b) is K×N, C_b is M×N.
// Layout (all in f32 elements, row-major, inside the bound ranges):
//   A_b(m, k) = A[offA + b·strideA + m·lda + k]    or, with transA, A[offA + b·strideA + k·lda + m]
//   B_b(k, n) = B[offB + b·strideB + k·ldb + n]    or, with transB, B[offB + b·strideB + n·ldb + k]
//   C_b(m, n) = C[offC + b·strideC + m·ldc + n]
// A batch stride of 0 broadcasts that operand over the batch. Every size, offset and stride (and
// alpha) is a uniform, so one pipeline serves every shape; only the transposes, accumulate, the
// vec4 access modes and the tile sizes are compiled in. (accumulate as a uniform with a branch
// around the stores made lavapipe compile the shaders 4-25× slower.)
import { MAX_WORKGROUPS_PER_DIM, type UniformField } from './spec';

export interface GemmKernelFlags {
  transA: boolean;
  transB: boolean;
  /** C += alpha·product (C is read back) instead of C = alpha·product. */
  accumulate: boolean;
}

export const GEMM_UNIFORMS: UniformField[] = [
  { name: 'M', type: 'u32' },
  { name: 'N', type: 'u32' },
  { name: 'K', type: 'u32' },
  { name: 'batch', type: 'u32' },
  { name: 'lda', type: 'u32' },
  { name: 'ldb', type: 'u32' },
  { name: 'ldc', type: 'u32' },
  { name: 'offA', type: 'u32' },
  { name: 'offB', type: 'u32' },
  { name: 'offC', type: 'u32' },
  { name: 'strideA', type: 'u32' },
  { name: 'strideB', type: 'u32' },
  { name: 'strideC', type: 'u32' },
  { name: 'alpha', type: 'f32' },
];

/** WGSL expression: flat index of op(A)(m, k) given `aBase` = offA + b·strideA. */
export function indexA(transA: boolean, m: string, k: string): string {
  return transA ? `aBase + (${k}) * p.lda + (${m})` : `aBase + (${m}) * p.lda + (${k})`;
}

/** WGSL expression: flat index of op(B)(k, n) given `bBase` = offB + b·strideB. */
export function indexB(transB: boolean, k: string, n: string): string {
  return transB ? `bBase + (${n}) * p.ldb + (${k})` : `bBase + (${k}) * p.ldb + (${n})`;
}

/** WGSL expression: flat index of C(m, n) given `cBase` = offC + b·strideC. */
export function indexC(m: string, n: string): string {
  return `cBase + (${m}) * p.ldc + (${n})`;
}

/** Batches run in a grid-stride loop over z, so any batch count fits the 65535 limit. */
export const MAX_BATCH_GROUPS = MAX_WORKGROUPS_PER_DIM;

export function flagKey(f: GemmKernelFlags): string {
  return `${f.transA ? 'T' : 'N'}${f.transB ? 'T' : 'N'}${f.accumulate ? '+acc' : ''}`;
}

/**
 * WGSL that stores the accumulators acc{i}_{j} (row r0 + i, columns c0 + 4j .. + 3) into C with
 * bounds checks. As vec4 (`vecC`: N, offC, ldc, strideC multiples of 4, so a vec4 is wholly in or
 * out), else element by element in a rolled loop over a private copy (keeps the shader small).
 */
export function storeTile(vecC: boolean, accumulate: boolean, r0: string, c0: string, tm: number, j4: number): string {
  const names: string[] = [];
  for (let i = 0; i < tm; i++) for (let j = 0; j < j4; j++) names.push(`acc${i}_${j}`);
  const op = accumulate ? '+=' : '=';
  if (vecC) {
    return names
      .map((name, t) => {
        const [i, j] = [Math.floor(t / j4), t % j4];
        return `    { let m = ${r0} + ${i}u; let n = ${c0} + ${4 * j}u;
      if (m < p.M && n < p.N) { C[(${indexC('m', 'n')}) >> 2u] ${op} p.alpha * ${name}; } }`;
      })
      .join('\n');
  }
  return `    var accTile = array<vec4<f32>, ${names.length}>(${names.join(', ')});
    for (var ti = 0u; ti < ${names.length}u; ti++) {
      let m = ${r0} + ti / ${j4}u;
      let n = ${c0} + (ti % ${j4}u) * 4u;
      if (m < p.M) {
        let q = ${indexC('m', 'n')};
        for (var e = 0u; e < 4u; e++) {
          if (n + e < p.N) { C[q + e] ${op} p.alpha * accTile[ti][e]; }
        }
      }
    }`;
}
