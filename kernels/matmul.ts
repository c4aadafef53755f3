// GEMM with register tiles and subgroup shuffles: the fast path where the device has subgroups of
// one known size S (8 on lavapipe). Math, operand layout, strides and batching: see
// matmul-common.ts (C_b = alpha · op(A_b)·op(B_b) (+ C_b)).
//
// Work split (shared/docs/lavapipe-performance.md §1–2, the fastest layout measured there):
// - Workgroup (S, WY): each row of S invocations (one lid.y) is one subgroup. A subgroup's tile is
//   TM rows × S·TN columns of one batch's C; the subgroups draw runs of tiles by tickets
//   (kernels/spec.ts, drawRun; batch slowest, then the order of bandedTiles), so a launch may have
//   fewer workgroups than tiles (on lavapipe one per thread).
// - An invocation owns a TM×TN register tile of C (TM rows, TN contiguous columns, as TN/4 vec4
//   accumulators per row; 16×8 by default; lib/ops/matmul.ts picks the tile per shape).
//   The rows depend only on the drawn tile, so they are uniform within a subgroup; the
//   S lanes of a subgroup walk N.
// - K advances S at a time: lane l holds the scalars op(A)(row_i, k0 + l) for its TM rows (one
//   load per row per S k-steps, or with `aVec` one vec4 load per 4 of them: along K, then
//   regrouped by shuffles, or along M for a transposed A), and a rolled loop over u < S hands
//   op(A)(row_i, k0 + u) to every lane with subgroupShuffle, while each lane loads its own TN values of op(B) row k0 + u: two
//   vec4 along N ('vecN', row-major 4-aligned B), or for a transposed 4-aligned B one vec4 along K
//   per column every 4 steps ('vecK'), else scalars ('scalar'). With `evenK` (K a multiple of S)
//   the u loop has a constant trip count, and for 'vecN' takes two k per iteration, each
//   accumulator updated by two chained FMAs. C is stored as vec4 when aligned.
// Edges: every load index is clamped into its matrix (row ≤ M-1, column ≤ N-1, k ≤ K-1): values
// read at clamped rows or columns only reach accumulators that are never stored, and the u loop
// stops at kn = min(S, K - k0), so a clamped k is never shuffled out (any K, no padding; with
// `evenK`, K a multiple of S, the steps are a constant S, which compiles better; a vec4 of a
// transposed A may reach up to 3 floats past row M − 1, which the caller keeps inside A's range,
// into accumulators that are never stored). Stores
// are guarded per row and column (per vec4 when N is a multiple of 4).
import { flagKey, GEMM_UNIFORMS, indexA, indexB, storeTile, type GemmKernelFlags } from './matmul-common';
import { bandedTiles, bindingDecls, drawRun, paramsStruct, TICKETS_BINDING, ticketGrid, TILE_COORDS, TILE_UNIFORMS, type KernelSpec, type UniformField } from './spec';

export type BLoad = 'vecN' | 'vecK' | 'scalar';

export interface SubgroupGemmConfig extends GemmKernelFlags {
  /** The device's subgroup size S (the shader relies on it being exact). */
  subgroupSize: number;
  /**
   * How op(B) is read: 'vecN' one vec4 of 4 columns per k (row-major B; offB, ldb, strideB
   * multiples of 4), 'vecK' one vec4 of 4 k-steps per column (transposed B, same alignment),
   * 'scalar' one load per element (any layout).
   */
  bLoad: BLoad;
  /** C written (and read) as vec4: needs N, offC, ldc, strideC multiples of 4. */
  vecC: boolean;
  /** Rows per invocation (default 16). */
  tm?: number;
  /** Columns per invocation, a multiple of 4 (default 8). */
  tn?: number;
  /** Subgroups per workgroup, stacked along M (default 64 / S, at least 1). */
  wy?: number;
  /**
   * K is a multiple of S (the caller guarantees it): the inner loop runs a constant S steps instead
   * of min(S, K − k0), which LLVM compiles better (lavapipe: 5–8% faster at 1024³, 8×256³ and
   * 32×(128×64·64×128), same process), and with 'vecN' two steps per iteration.
   */
  evenK?: boolean;
  /**
   * op(A) read as vec4 (offA, lda and strideA multiples of 4, TM and S multiples of 4): one vec4
   * load per 4 values instead of 4 scalar loads. Plain A: along K (needs evenK), and each lane
   * takes its scalars out of the vec4s by shuffles; transposed A: along M, and the caller
   * guarantees that the vec4 holding row M − 1 lies inside A's range. Lavapipe, same process,
   * interleaved (scalar → vec4 A): 1024³ 48.0 → 41.2 ms, 4096×64×4096 60.5 → 54.0 ms,
   * 32×(128×64·64×128) 2.27 → 2.03 ms, 8×256³ 7.06 → 6.04 ms; transposed A, 1024³ 50.0 → 45.8 ms.
   */
  aVec?: boolean;
}

const range = (n: number) => [...Array(n).keys()];

/** The subgroup kernel's uniforms: the GEMM's, and its tiles (TILE_UNIFORMS; row tiles of TM rows, per batch). */
export const SUBGROUP_GEMM_UNIFORMS: UniformField[] = [...GEMM_UNIFORMS, ...TILE_UNIFORMS];

/** The tiles of a launch of the subgroup kernel with TM×TN register tiles: TM rows × S·TN columns of one batch each, in bandedTiles' order. */
export function subgroupGemmTiles(S: number, tm: number, tn: number, u: { M: number; N: number; K: number; batch: number }) {
  return bandedTiles(Math.ceil(u.M / tm), Math.ceil(u.N / (S * tn)), u.batch, 4 * tm * u.K, 4 * u.K * u.N);
}

export function subgroupGemmKernel(cfg: SubgroupGemmConfig): KernelSpec {
  const S = cfg.subgroupSize;
  const TM = cfg.tm ?? 16;
  const TN = cfg.tn ?? 8;
  const WY = cfg.wy ?? Math.max(1, Math.floor(64 / S));
  if (!Number.isInteger(S) || S < 1 || TN % 4 !== 0 || TM < 1 || WY < 1 || (cfg.bLoad === 'vecK' && S % 4 !== 0)) {
    throw new Error(`subgroupGemmKernel: bad config ${JSON.stringify(cfg)}`);
  }
  if (cfg.aVec && ((!cfg.evenK && !cfg.transA) || TM % 4 !== 0 || S % 4 !== 0)) {
    throw new Error(`subgroupGemmKernel: aVec needs TM and S multiples of 4, and evenK unless A is transposed: ${JSON.stringify(cfg)}`);
  }
  if ((cfg.bLoad === 'vecN' && cfg.transB) || (cfg.bLoad === 'vecK' && !cfg.transB)) {
    throw new Error(`subgroupGemmKernel: bLoad ${cfg.bLoad} does not fit transB = ${cfg.transB}`);
  }
  const J = TN / 4;
  const rows = range(TM);
  const cols = range(J);
  const bindings = [
    { name: 'A', access: 'read' as const, type: cfg.aVec ? 'array<vec4<f32>>' : 'array<f32>' },
    { name: 'B', access: 'read' as const, type: cfg.bLoad === 'scalar' ? 'array<f32>' : 'array<vec4<f32>>' },
    { name: 'C', access: 'read_write' as const, type: cfg.vecC ? 'array<vec4<f32>>' : 'array<f32>' },
    TICKETS_BINDING,
  ];

  // Column handles, computed once per tile: the columns are clamped to N - 1, so every load is
  // in bounds (clamped columns feed only accumulators that are never stored).
  let colSetup: string;
  let bStep: string; // the loop over the S k-steps of one block, given kn valid steps
  const fmaRows = (u: string) =>
    rows
      .map((i) => {
        const fmas = cols.map((j) => `acc${i}_${j} = fma(s, b${j}, acc${i}_${j});`).join(' ');
        return `{ let s = vec4<f32>(subgroupShuffle(a${i}, ${u})); ${fmas} }`;
      })
      .join('\n          ');
  if (cfg.bLoad === 'vecN' && cfg.evenK && S % 2 === 0) {
    // Two k-steps per iteration, each accumulator updated by two chained FMAs: llvmpipe keeps the
    // accumulators in memory and blends every store to a loop variable, so this halves that
    // overhead (as in kernels/conv2d.ts; with 8 columns per lane: 1024³ +10–14 %, 8×256³ +5 %).
    colSetup = cols.map((j) => `let n4_${j} = min(col0 / 4u + ${j}u, (p.N + 3u) / 4u - 1u);`).join('\n    ');
    const fmaPairs = rows
      .map((i) => {
        const fmas = cols.map((j) => `acc${i}_${j} = fma(y, c${j}, fma(x, b${j}, acc${i}_${j}));`).join(' ');
        return `{ let x = vec4<f32>(subgroupShuffle(a${i}, u)); let y = vec4<f32>(subgroupShuffle(a${i}, u + 1u)); ${fmas} }`;
      })
      .join('\n          ');
    bStep = `
      for (var u = 0u; u < ${S}u; u += 2u) {
        let row4 = (bBase + (k0 + u) * p.ldb) >> 2u;
        let next4 = row4 + (p.ldb >> 2u);
        ${cols.map((j) => `let b${j} = B[row4 + n4_${j}]; let c${j} = B[next4 + n4_${j}];`).join(' ')}
          ${fmaPairs}
      }`;
  } else if (cfg.bLoad === 'vecN') {
    // n4_j: vec4 column index of columns col0 + 4j .. + 3.
    colSetup = cols.map((j) => `let n4_${j} = min(col0 / 4u + ${j}u, (p.N + 3u) / 4u - 1u);`).join('\n    ');
    bStep = `
      for (var u = 0u; u < kn; u++) {
        let row4 = (bBase + (k0 + u) * p.ldb) >> 2u;
        ${cols.map((j) => `let b${j} = B[row4 + n4_${j}];`).join(' ')}
          ${fmaRows('u')}
      }`;
  } else if (cfg.bLoad === 'vecK') {
    // q_j: vec4 index of column j's first element; a vec4 holds 4 consecutive k.
    colSetup = range(TN)
      .map((j) => `let q${j} = (bBase + min(col0 + ${j}u, p.N - 1u) * p.ldb) >> 2u;`)
      .join('\n    ');
    const comp = (j0: number) => `vec4<f32>(${[0, 1, 2, 3].map((e) => `v${j0 + e}[c]`).join(', ')})`;
    bStep = `
      for (var h = 0u; h < kn; h += 4u) {
        let kq = (k0 + h) >> 2u;
        ${range(TN).map((j) => `let v${j} = B[q${j} + kq];`).join(' ')}
        for (var c = 0u; c < ${cfg.evenK ? '4u' : 'min(4u, kn - h)'}; c++) {
          let u = h + c;
          ${cols.map((j) => `let b${j} = ${comp(4 * j)};`).join(' ')}
          ${fmaRows('u')}
        }
      }`;
  } else {
    colSetup = range(TN).map((j) => `let n${j} = min(col0 + ${j}u, p.N - 1u);`).join('\n    ');
    const load = (j: number) => `B[${indexB(cfg.transB, 'k', `n${j}`)}]`;
    bStep = `
      for (var u = 0u; u < kn; u++) {
        let k = k0 + u;
        ${cols.map((j) => `let b${j} = vec4<f32>(${[0, 1, 2, 3].map((e) => load(4 * j + e)).join(', ')});`).join('\n        ')}
          ${fmaRows('u')}
      }`;
  }

  // aVec: the block of S k-steps of TM rows is TM·S/4 vec4, TM/4 per lane. Lane l = m·Q + h
  // (Q = S/4, m < 4) loads v_t = op(A)(row0 + 4t + m, k0 + 4h .. 4h + 3). Row i = 4t + m at k0 + κ
  // is then component κ & 3 of v_t in lane m·Q + (κ >> 2): each lane takes its own k0 + lane (the
  // layout the shuffle loop expects) with one shuffle per component and a select.
  const Q = S / 4;
  const aVecLoads = cfg.transA
    ? // Transposed A: lane l's k0 + l row holds the TM rows of op(A) as TM/4 consecutive vec4 (the
      // last clamped to the vec4 holding row M − 1; rows past M only feed unstored accumulators).
      [
        ...range(TM / 4).map((t) => `      let w${t} = A[(aBase + ka * p.lda + min(row0 + ${4 * t}u, p.M - 1u)) >> 2u];`),
        ...rows.map((i) => `      let a${i} = w${i >> 2}.${'xyzw'[i & 3]};`),
      ].join('\n')
    : [
        ...range(TM / 4).map((t) => `      let v${t} = A[(aBase + min(row0 + ${4 * t}u + am, p.M - 1u) * p.lda + k0 + 4u * aq) >> 2u];`),
        ...rows.map((i) => {
          const sh = (c: string) => `subgroupShuffle(v${i >> 2}.${c}, ${(i & 3) * Q}u + (lane >> 2u))`;
          return `      let a${i} = select(select(${sh('x')}, ${sh('y')}, ac == 1u), select(${sh('z')}, ${sh('w')}, ac == 3u), ac >= 2u);`;
        }),
      ].join('\n');

  const code = /* wgsl */ `
enable subgroups;
// The tile drawn by tickets is uniform within each subgroup though not across the workgroup;
// the shuffles after the draw stay subgroup-uniform.
diagnostic(off, subgroup_uniformity);
${paramsStruct(SUBGROUP_GEMM_UNIFORMS)}
${bindingDecls(bindings, true)}
${TILE_COORDS}

@compute @workgroup_size(${S}, ${WY})
fn main(@builtin(num_workgroups) groups: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  let subgroups = groups.x * groups.y * groups.z * ${WY}u;${cfg.aVec && !cfg.transA ? `
  let aq = lane % ${Q}u; let am = lane / ${Q}u; let ac = lane & 3u;` : ''}
  loop {
${drawRun('    ')}
    for (var i = 0u; i < count; i++) {
    let b = at.z;
    let row0 = at.x * ${TM}u;
    let col0 = (at.y * ${S}u + lane) * ${TN}u;
    let aBase = p.offA + b * p.strideA;
    let bBase = p.offB + b * p.strideB;
    let cBase = p.offC + b * p.strideC;
    ${colSetup}
${rows.flatMap((i) => cols.map((j) => `    var acc${i}_${j} = vec4<f32>(0.0);`)).join('\n')}
    for (var k0 = 0u; k0 < p.K; k0 += ${S}u) {
      // Lane l loads op(A)(row_i, k0 + l), clamped into the matrix (rows past M feed unstored
      // accumulators, k past K is never shuffled out since the steps stop at kn).
      let ka = min(k0 + lane, p.K - 1u);
${cfg.aVec ? aVecLoads : rows.map((i) => `      let a${i} = A[${indexA(cfg.transA, `min(row0 + ${i}u, p.M - 1u)`, 'ka')}];`).join('\n')}
      let kn = ${cfg.evenK ? `${S}u` : `min(${S}u, p.K - k0)`};${bStep}
    }
${storeTile(cfg.vecC, cfg.accumulate, 'row0', 'col0', TM, J)}
    at = nextTile(at);
    }
  }
}`;

  return {
    key: `gemmSubgroup:${flagKey(cfg)}:S${S}:${TM}x${TN}:wy${WY}:${cfg.bLoad}:${cfg.vecC ? 'vC' : 'sC'}${cfg.evenK ? ':evenK' : ''}${cfg.aVec ? ':vA' : ''}`,
    name: `gemm.subgroup.${flagKey(cfg)}`,
    code,
    bindings: bindings.map((b) => b.access),
    uniforms: SUBGROUP_GEMM_UNIFORMS,
    requires: ['subgroups'],
    dispatch: (u) => ticketGrid(Number(u.tiles), WY, 0),
  };
}
