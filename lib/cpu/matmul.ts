// CPU reference of matmul / bmm and of their gradients (float64, plain loops).
// Operands are read element by element through op(·) (the transpose flags), so the reference
// shares none of the GPU path's transpose algebra: the gradients are written straight from
// C[b,m,n] = Σ_k op(A)[b,m,k]·op(B)[b,k,n], and a broadcast (batch 1) operand sums over the batch.
import type { RefArray } from './array';

export interface RefMatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

interface View {
  batch: number;
  /** Element (b, i, j) of op(x), with b broadcast when the stored batch is 1. */
  at(b: number, i: number, j: number): number;
  /** Flat index of op(x)(b, i, j) in the stored array. */
  index(b: number, i: number, j: number): number;
  rows: number;
  cols: number;
}

function view(x: RefArray, transposed: boolean, what: string): View {
  const rank = x.shape.length;
  if (rank !== 2 && rank !== 3) throw new Error(`cpu matmul: ${what} must be 2-D or 3-D, got [${x.shape}]`);
  const [batch, r, c] = rank === 2 ? [1, x.shape[0]!, x.shape[1]!] : [x.shape[0]!, x.shape[1]!, x.shape[2]!];
  const index = (b: number, i: number, j: number) => {
    const bb = batch === 1 ? 0 : b;
    return transposed ? bb * r * c + j * c + i : bb * r * c + i * c + j;
  };
  return {
    batch,
    rows: transposed ? c : r,
    cols: transposed ? r : c,
    index,
    at: (b, i, j) => x.data[index(b, i, j)]!,
  };
}

function operands(a: RefArray, b: RefArray, o: RefMatmulOptions) {
  if (a.shape.length !== b.shape.length) throw new Error(`cpu matmul: ranks differ: [${a.shape}] and [${b.shape}]`);
  const A = view(a, o.transA ?? false, 'a');
  const B = view(b, o.transB ?? false, 'b');
  if (A.cols !== B.rows) throw new Error(`cpu matmul: inner sizes differ: [${a.shape}] and [${b.shape}]`);
  if (A.batch !== B.batch && A.batch !== 1 && B.batch !== 1) throw new Error(`cpu matmul: batches differ: [${a.shape}] and [${b.shape}]`);
  const batch = Math.max(A.batch, B.batch);
  const rank3 = a.shape.length === 3;
  return { A, B, batch, M: A.rows, K: A.cols, N: B.cols, rank3 };
}

/** op(a)·op(b) for 2-D operands, or per batch for 3-D operands (a batch of 1 broadcasts). */
export function refMatmul(a: RefArray, b: RefArray, options: RefMatmulOptions = {}): RefArray {
  const { A, B, batch, M, K, N, rank3 } = operands(a, b, options);
  const data = new Float64Array(batch * M * N);
  for (let bi = 0; bi < batch; bi++) {
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A.at(bi, m, k) * B.at(bi, k, n);
        data[(bi * M + m) * N + n] = s;
      }
    }
  }
  return { data, shape: rank3 ? [batch, M, N] : [M, N] };
}

/** Gradients of Σ gOut·refMatmul(a, b) with respect to a and b (in a's and b's stored layouts). */
export function refMatmulBackward(
  a: RefArray,
  b: RefArray,
  gOut: RefArray,
  options: RefMatmulOptions = {},
): { gradA: RefArray; gradB: RefArray } {
  const { A, B, batch, M, K, N } = operands(a, b, options);
  if (gOut.data.length !== batch * M * N) throw new Error(`cpu matmul backward: gradient [${gOut.shape}] does not match the output`);
  const gradA = new Float64Array(a.data.length);
  const gradB = new Float64Array(b.data.length);
  const g = (bi: number, m: number, n: number) => gOut.data[(bi * M + m) * N + n]!;
  for (let bi = 0; bi < batch; bi++) {
    for (let m = 0; m < M; m++) {
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let n = 0; n < N; n++) s += g(bi, m, n) * B.at(bi, k, n);
        gradA[A.index(bi, m, k)]! += s;
      }
    }
    for (let k = 0; k < K; k++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let m = 0; m < M; m++) s += A.at(bi, m, k) * g(bi, m, n);
        gradB[B.index(bi, k, n)]! += s;
      }
    }
  }
  return { gradA: { data: gradA, shape: [...a.shape] }, gradB: { data: gradB, shape: [...b.shape] } };
}

/** The layout of a batched strided GEMM (the twin of lib/ops/matmul.ts `gemm`; f32 element units). */
export interface RefGemmDims {
  batch: number;
  M: number;
  N: number;
  K: number;
  lda: number;
  ldb: number;
  ldc: number;
  offsetA: number;
  offsetB: number;
  offsetC: number;
  strideA: number;
  strideB: number;
  strideC: number;
}

/**
 * In place on c: C_b = alpha·op(A_b)·op(B_b) (+ C_b when accumulate) for every batch b, reading
 * the matrices at their strided places in the flat arrays a, b, c; nothing else of c changes.
 */
export function refGemm(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  c: Float64Array,
  d: RefGemmDims,
  flags: { transA?: boolean; transB?: boolean; accumulate?: boolean; alpha?: number } = {},
): void {
  const alpha = flags.alpha ?? 1;
  for (let bi = 0; bi < d.batch; bi++) {
    const aBase = d.offsetA + bi * d.strideA;
    const bBase = d.offsetB + bi * d.strideB;
    const cBase = d.offsetC + bi * d.strideC;
    for (let m = 0; m < d.M; m++) {
      for (let n = 0; n < d.N; n++) {
        let s = 0;
        for (let k = 0; k < d.K; k++) {
          const av = a[flags.transA ? aBase + k * d.lda + m : aBase + m * d.lda + k]!;
          const bv = b[flags.transB ? bBase + n * d.ldb + k : bBase + k * d.ldb + n]!;
          s += av * bv;
        }
        const i = cBase + m * d.ldc + n;
        c[i] = alpha * s + (flags.accumulate ? c[i]! : 0);
      }
    }
  }
}
