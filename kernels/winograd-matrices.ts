// The matrices of Winograd's minimal filtering algorithm F(m, r) (1-D: m outputs of an r-tap
// correlation from α = m + r − 1 inputs, y = Aᵀ[(G g) ⊙ (Bᵀ d)]), built by Toom-Cook from α − 1
// finite interpolation points a_j plus the point at infinity (Lavin & Gray 2016, §4):
//   Aᵀ[i][j] = a_j^i (j < α − 1),   Aᵀ[i][α − 1] = [i = m − 1]
//   G[j][k]  = a_j^k / Π_{l≠j} (a_j − a_l) (j < α − 1),   G[α − 1][k] = [k = r − 1]
// and Bᵀ the unique matrix that makes the algorithm exact: Σ_j Aᵀ[i][j]·G[j][k]·Bᵀ[j][p] =
// [p = i + k] for every output i, tap k and input p, solved here in float64.
// The points set the rounding error: for F(4, 3) the points 0, ±1, 1/2, −2 measured 2-3× smaller
// errors in float32 on ResNet-18 shapes than the usual 0, ±1, ±2 (Barabasz et al., "Error
// Analysis and Improving the Accuracy of Winograd Convolution for Deep Neural Networks", 2020,
// report the same); their transforms cost the same loads and stores.

export interface WinogradMatrices {
  /** Aᵀ (m×α), G (α×r), Bᵀ (α×α). */
  AT: number[][];
  G: number[][];
  BT: number[][];
}

const range = (n: number) => [...Array(n).keys()];

/** Solves A·x = b (n×n, in place) by Gaussian elimination with partial pivoting. */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let q = c + 1; q < n; q++) if (Math.abs(A[q]![c]!) > Math.abs(A[pivot]![c]!)) pivot = q;
    if (!(Math.abs(A[pivot]![c]!) > 1e-12)) throw new Error('winograd matrices: singular exactness equations');
    [A[c], A[pivot]] = [A[pivot]!, A[c]!];
    [b[c], b[pivot]] = [b[pivot]!, b[c]!];
    for (let q = 0; q < n; q++) {
      if (q === c) continue;
      const t = A[q]![c]! / A[c]![c]!;
      for (let k = c; k < n; k++) A[q]![k]! -= t * A[c]![k]!;
      b[q]! -= t * b[c]!;
    }
  }
  return b.map((v, i) => v / A[i]![i]!);
}

/** F(m, r) from the α − 1 finite points (α = m + r − 1). */
export function toomCook(m: number, r: number, points: number[]): WinogradMatrices {
  const a = m + r - 1;
  if (points.length !== a - 1) throw new Error(`winograd matrices: F(${m}, ${r}) needs ${a - 1} points, got ${points.length}`);
  if (new Set(points).size !== points.length || !points.every(Number.isFinite)) {
    throw new Error(`winograd matrices: the interpolation points must be distinct finite numbers, got ${JSON.stringify(points)}`);
  }
  const AT = range(m).map((i) => [...points.map((p) => p ** i), i === m - 1 ? 1 : 0]);
  const G = [
    ...points.map((p, j) => {
      const f = points.reduce((prod, q, l) => (l === j ? prod : prod * (p - q)), 1);
      return range(r).map((k) => p ** k / f);
    }),
    range(r).map((k) => (k === r - 1 ? 1 : 0)),
  ];
  // Column p of Bᵀ: the least-squares solution of the m·r exactness equations (which are
  // consistent, so it is exact), through the α×α normal equations.
  const E = range(m).flatMap((i) => range(r).map((k) => range(a).map((j) => AT[i]![j]! * G[j]![k]!)));
  const columns = range(a).map((p) => {
    const rhs = range(m).flatMap((i) => range(r).map((k) => (p === i + k ? 1 : 0)));
    const normal = range(a).map((u) => range(a).map((v) => E.reduce((s, row) => s + row[u]! * row[v]!, 0)));
    const right = range(a).map((u) => E.reduce((s, row, q) => s + row[u]! * rhs[q]!, 0));
    return solve(normal, right).map((v) => Number(v.toPrecision(12)));
  });
  const BT = range(a).map((j) => range(a).map((p) => columns[p]![j]!));
  return { AT, G, BT };
}

/** The interpolation points this library uses for 3-tap filters. */
export const WINOGRAD_POINTS: Record<2 | 4, number[]> = {
  2: [0, 1, -1],
  4: [0, 1, -1, 1 / 2, -2],
};
