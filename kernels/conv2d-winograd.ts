// Winograd F(m×m, 3×3) for 3×3 stride-1 convolutions, m = 2 or 4 (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2016). Each m×m block of outputs of one plane
// ("tile") reads an α×α input patch, α = m + 2, and
//   y_tile = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A
// with d_c the patch of input channel c and g_c the 3×3 filter. For each of the α² positions
// ξ = α·i + j of the transformed tile the sum over c is a GEMM,
//   M[ξ] (T×N) = V[ξ] (T×K) · U[ξ] (K×N),   T tiles, K input channels, N output channels,
// run by the batched GEMM of kernels/matmul.ts: α²/(9m²) of the direct convolution's multiplies
// (4/9 for m = 2, 1/4 for m = 4). The three memory-bound kernels here build U and V and turn M
// into the output. Layouts (f32): each operand is addressed with an item stride `is` and a
// position stride `ps`, so the caller picks blocked ([α², items, channels]) or interleaved
// ([items, α², channels]) storage; the GEMM reads the α² matrices with row stride `is` and batch
// stride `ps`.
//   U: U[k·is + ξ·ps + n] = (G g Gᵀ)[ξ],  g(i, j) = W[base + k·sk + n·sn + i·sy + j·sx] (i32
//      strides, so one kernel reads the forward's filters or dX's flipped, transposed ones)
//   V: V[t·is + ξ·ps + k] = (Bᵀ d B)[ξ],  d(i, j) = src[(img·K + k)·h·w + (m·ty − top + i)·w + m·tx − left + j]
//      (0 outside the h×w plane), t = (img·tilesY + ty)·tilesX + tx
//   M: M[t·is + ξ·ps + n] → out[(img·N + n)·ho·wo + (m·ty + i)·wo + m·tx + j] for i, j < m inside
//      ho×wo (+ bias[n])
// One invocation per (k, n), (t, k) or (t, n) in a grid-stride loop (kernels/spec.ts), the last index fastest. The
// transforms are unrolled from the matrices of kernels/winograd-matrices.ts, zero terms left out.
import { gridStrideKernel, u32Fields, type Access, type KernelSpec, type UniformField } from './spec';
import { toomCook, WINOGRAD_POINTS, type WinogradMatrices } from './winograd-matrices';

export type WinogradTile = 2 | 4;

const TRANSFORMS: Record<WinogradTile, WinogradMatrices> = {
  2: toomCook(2, 3, WINOGRAD_POINTS[2]),
  4: toomCook(4, 3, WINOGRAD_POINTS[4]),
};

/**
 * dW by F(3×3, m×m): each m×m tile of dY acts as the filter over the α×α patch of x it saw, and the
 * 3×3 result summed over tiles and images is dW (the same α, the roles of the 3 and the m swapped).
 */
const GRAD_TRANSFORMS: Record<WinogradTile, WinogradMatrices> = {
  2: toomCook(3, 2, WINOGRAD_POINTS[2]),
  4: toomCook(3, 4, WINOGRAD_POINTS[4]),
};

/** Input patch side α of tile size m. */
export const patchSize = (m: WinogradTile) => m + 2;

const range = (n: number) => [...Array(n).keys()];

function literal(x: number): string {
  const s = String(x);
  return s.includes('.') || s.includes('e') ? s : `${s}.0`;
}

/** WGSL for Σ_j coef[j]·terms[j], zero coefficients left out. */
function combine(coef: number[], terms: string[]): string {
  const parts = coef.flatMap((c, j) => (c === 0 ? [] : [c === 1 ? terms[j]! : c === -1 ? `-${terms[j]}` : `${literal(c)} * ${terms[j]}`]));
  return parts.length ? parts.join(' + ').replace(/\+ -/g, '- ') : '0.0';
}

/**
 * WGSL lines computing out_i_j = (L · X · Rᵀ)[i][j] from the matrix of names X (rows × cols),
 * through a temporary P = L·X: L is p×rows, R is q×cols.
 */
function sandwich(L: number[][], X: string[][], R: number[][], out: string, tmp: string): string[] {
  const lines: string[] = [];
  const cols = X[0]!.length;
  for (let i = 0; i < L.length; i++) {
    for (let j = 0; j < cols; j++) lines.push(`let ${tmp}${i}_${j} = ${combine(L[i]!, X.map((row) => row[j]!))};`);
  }
  for (let i = 0; i < L.length; i++) {
    const row = range(cols).map((j) => `${tmp}${i}_${j}`);
    for (let j = 0; j < R.length; j++) lines.push(`let ${out}${i}_${j} = ${combine(R[j]!, row)};`);
  }
  return lines;
}

type Binding = { name: string; access: Access };

/** Lines f(i, j) for i, j < n, row by row. */
const square = (n: number, f: (i: number, j: number) => string) => range(n).flatMap((i) => range(n).map((j) => f(i, j)));

/** Names `${prefix}i_j` of an n×n matrix. */
const names = (prefix: string, n: number) => range(n).map((i) => range(n).map((j) => `${prefix}${i}_${j}`));

/**
 * idx = t·channels + ch → tile t, channel `ch`, and the tile's image and position (img, ty, tx),
 * plus `o`, the tile's entry t·is + ch in the interleaved-or-blocked α² layout.
 */
const tileOf = (ch: string, channels: string) => [
  `let t = idx / ${channels};`,
  `let ${ch} = idx - t * ${channels};`,
  'let img = t / p.tilesPer;',
  'let r = t - img * p.tilesPer;',
  'let ty = r / p.tilesX;',
  'let tx = r - ty * p.tilesX;',
  `let o = t * p.is + ${ch};`,
];

/** The tile's first output (oy, ox) and its index `corner` in the [img, n, ho, wo] planes. */
const outputCorner = (m: WinogradTile) => [
  `let oy = ${m}u * ty;`,
  `let ox = ${m}u * tx;`,
  'let corner = (img * p.n + n) * p.ho * p.wo + oy * p.wo + ox;',
];

/** The guarded load used by the tile loads: 0 where !ok (no read out of range). */
const guardedLoad = (array: string) => /* wgsl */ `fn at(i: u32, ok: bool) -> f32 {
  return select(0.0, ${array}[select(0u, i, ok)], ok);
}`;

/** Filter transform U = G g Gᵀ. Bindings: W, U. Uniforms: n, total (= K·N), is, ps, sk, sn, sy, sx, base. */
export function winogradFilterKernel(m: WinogradTile): KernelSpec {
  const { G } = TRANSFORMS[m];
  const a = patchSize(m);
  const uniforms: UniformField[] = [
    ...u32Fields('n', 'total', 'is', 'ps'),
    ...['sk', 'sn', 'sy', 'sx', 'base'].map((name) => ({ name, type: 'i32' as const })),
  ];
  const body = [
    'let k = idx / p.n;',
    'let n = idx - k * p.n;',
    'let b = p.base + i32(k) * p.sk + i32(n) * p.sn;',
    'let o = k * p.is + n;',
    ...square(3, (i, j) => `let g${i}_${j} = W[u32(b + ${i} * p.sy + ${j} * p.sx)];`),
    ...sandwich(G, names('g', 3), G, 'u', 'q'),
    ...square(a, (i, j) => `U[o + ${a * i + j}u * p.ps] = u${i}_${j};`),
  ];
  const bindings: Binding[] = [
    { name: 'W', access: 'read' },
    { name: 'U', access: 'read_write' },
  ];
  return gridStrideKernel({ key: `conv2d.winograd.filter:${m}`, name: 'conv2d.winograd.filter', uniforms, bindings, body });
}

/**
 * Input transform V = Bᵀ d B (Bᵀ of F(m, 3), which is also that of F(3, m) for dW: the same
 * points give the same Bᵀ). Bindings: src, V. Uniforms: k, h, w, tilesX, tilesPer, top, left,
 * total (= T·K), is, ps.
 */
export function winogradInputKernel(m: WinogradTile): KernelSpec {
  const { BT } = TRANSFORMS[m];
  const a = patchSize(m);
  const uniforms = u32Fields('k', 'h', 'w', 'tilesX', 'tilesPer', 'top', 'left', 'total', 'is', 'ps');
  const body = [
    ...tileOf('c', 'p.k'),
    // u32 arithmetic: rows and columns above or left of the plane wrap past h and w.
    `let ys = ${m}u * ty - p.top;`,
    `let xs = ${m}u * tx - p.left;`,
    'let plane = (img * p.k + c) * p.h * p.w;',
    ...range(a).map((j) => `let x${j} = xs + ${j}u; let cx${j} = x${j} < p.w;`),
    ...range(a).map((i) => `let row${i} = plane + (ys + ${i}u) * p.w; let cy${i} = ys + ${i}u < p.h;`),
    ...square(a, (i, j) => `let d${i}_${j} = at(row${i} + x${j}, cy${i} && cx${j});`),
    ...sandwich(BT, names('d', a), BT, 'v', 's'),
    ...square(a, (i, j) => `V[o + ${a * i + j}u * p.ps] = v${i}_${j};`),
  ];
  const bindings: Binding[] = [
    { name: 'src', access: 'read' },
    { name: 'V', access: 'read_write' },
  ];
  return gridStrideKernel({ key: `conv2d.winograd.input:${m}`, name: 'conv2d.winograd.input', uniforms, bindings, body, helpers: guardedLoad('src') });
}

/**
 * Output transform y = Aᵀ M A. Bindings: M, out (+ bias). Uniforms: n, ho, wo, tilesX, tilesPer,
 * total (= T·N), is, ps.
 */
export function winogradOutputKernel(m: WinogradTile, bias: boolean): KernelSpec {
  const { AT } = TRANSFORMS[m];
  const a = patchSize(m);
  const uniforms = u32Fields('n', 'ho', 'wo', 'tilesX', 'tilesPer', 'total', 'is', 'ps');
  const body = [
    ...tileOf('n', 'p.n'),
    ...square(a, (i, j) => `let m${i}_${j} = M[o + ${a * i + j}u * p.ps];`),
    ...sandwich(AT, names('m', a), AT, 'y', 'e'),
    `let add = ${bias ? 'bias[n]' : '0.0'};`,
    ...outputCorner(m),
    ...range(m).flatMap((i) => [
      `if (oy + ${i}u < p.ho) {`,
      ...range(m).map((j) => `  if (ox + ${j}u < p.wo) { out[corner + ${i}u * p.wo + ${j}u] = y${i}_${j} + add; }`),
      '}',
    ]),
  ];
  const bindings: Binding[] = [
    { name: 'M', access: 'read' },
    { name: 'out', access: 'read_write' },
    ...(bias ? [{ name: 'bias', access: 'read' as const }] : []),
  ];
  return gridStrideKernel({ key: `conv2d.winograd.output:${m}:${bias ? 'bias' : 'nobias'}`, name: 'conv2d.winograd.output', uniforms, bindings, body });
}

/**
 * dW's transform of the dY tiles: Y = G D Gᵀ with G of F(3, m) and D the m×m tile of dY plane
 * (img, n) at (m·ty, m·tx), zero past ho×wo; Y[t·is + ξ·ps + n]. Bindings: dy, Y. Uniforms: n, ho,
 * wo, tilesX, tilesPer, total (= T·N), is, ps.
 */
export function winogradGradTileKernel(m: WinogradTile): KernelSpec {
  const { G } = GRAD_TRANSFORMS[m];
  const a = patchSize(m);
  const uniforms = u32Fields('n', 'ho', 'wo', 'tilesX', 'tilesPer', 'total', 'is', 'ps');
  const body = [
    ...tileOf('n', 'p.n'),
    ...outputCorner(m),
    ...square(m, (i, j) => `let d${i}_${j} = at(corner + ${i}u * p.wo + ${j}u, oy + ${i}u < p.ho && ox + ${j}u < p.wo);`),
    ...sandwich(G, names('d', m), G, 'v', 's'),
    ...square(a, (i, j) => `Y[o + ${a * i + j}u * p.ps] = v${i}_${j};`),
  ];
  const bindings: Binding[] = [
    { name: 'dy', access: 'read' },
    { name: 'Y', access: 'read_write' },
  ];
  return gridStrideKernel({ key: `conv2d.winograd.gradTile:${m}`, name: 'conv2d.winograd.gradTile', uniforms, bindings, body, helpers: guardedLoad('dy') });
}

/**
 * dW from the α² GEMM results: dW[n, k, i, j] = (Aᵀ M A)[i][j] with Aᵀ of F(3, m) and
 * M[ξ] = M[k·is + ξ·ps + n] (k the input channel, n the output channel), dW [N, K, 3, 3].
 * Bindings: M, dw. Uniforms: n, k, total (= K·N), is, ps.
 */
export function winogradFilterGradKernel(m: WinogradTile): KernelSpec {
  const { AT } = GRAD_TRANSFORMS[m];
  const a = patchSize(m);
  const uniforms = u32Fields('n', 'k', 'total', 'is', 'ps');
  const body = [
    'let k = idx / p.n;',
    'let n = idx - k * p.n;',
    'let o = k * p.is + n;',
    ...square(a, (i, j) => `let m${i}_${j} = M[o + ${a * i + j}u * p.ps];`),
    ...sandwich(AT, names('m', a), AT, 'y', 'e'),
    'let w = (n * p.k + k) * 9u;',
    ...square(3, (i, j) => `dw[w + ${3 * i + j}u] = y${i}_${j};`),
  ];
  const bindings: Binding[] = [
    { name: 'M', access: 'read' },
    { name: 'dw', access: 'read_write' },
  ];
  return gridStrideKernel({ key: `conv2d.winograd.filterGrad:${m}`, name: 'conv2d.winograd.filterGrad', uniforms, bindings, body });
}
