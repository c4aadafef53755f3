// GEMM with workgroup-shared tiles and no subgroups: the portable path (browsers without the
// `subgroups` feature, SwiftShader, real GPUs where subgroup sizes vary). Math, operand layout,
// strides and batching: see matmul-common.ts (C_b = alpha · op(A_b)·op(B_b) (+ C_b)).
//
// Work split: a workgroup of (BN/TN) × (BM/TM) invocations computes a BM×BN tile of C; each
// invocation owns TM rows × TN contiguous columns of it in vec4 register accumulators. K advances
// BK at a time: the workgroup copies the BM×BK tile of op(A) and the BK×BN tile of op(B) into
// workgroup memory (coalesced global reads along whichever axis is contiguous, so the transposes
// are absorbed here), both stored k-major (As[k][m], Bs[k][n]) so that the inner loop reads each
// invocation's TM rows and TN columns as vec4s.
// Defaults 128×64 tiles, BK 16, 16×8 per invocation: on lavapipe (1024³) the fastest of those
// tried (~1.3-1.5× the 64×64 / 8×8 layout, BK 8 and 32 no better), and ~1.6-2.6× slower there than
// the subgroup kernel, as shared/docs/lavapipe-performance.md found for workgroup-memory tiling.
// Edges: tile loads outside the matrix (m ≥ M, n ≥ N, k ≥ K) read element 0 and store 0, so the
// K tail and the partial tiles need no special case; stores are guarded per element. Batches
// beyond the grid's z size are covered by a grid-stride loop over z.
import { flagKey, GEMM_UNIFORMS, indexA, indexB, MAX_BATCH_GROUPS, storeTile, type GemmKernelFlags } from './matmul-common';
import { bindingDecls, groupsFor, paramsStruct, type KernelSpec } from './spec';

export interface TiledGemmConfig extends GemmKernelFlags {
  /** Tile of C per workgroup (BM × BN) and depth of a K step (BK). Defaults 128, 64, 16. */
  bm?: number;
  bn?: number;
  bk?: number;
  /** Register tile per invocation (TM × TN, multiples of 4). Defaults 16 × 8. */
  tm?: number;
  tn?: number;
}

const range = (n: number) => [...Array(n).keys()];

export function tiledGemmKernel(cfg: TiledGemmConfig): KernelSpec {
  const BM = cfg.bm ?? 128;
  const BN = cfg.bn ?? 64;
  const BK = cfg.bk ?? 16;
  const TM = cfg.tm ?? 16;
  const TN = cfg.tn ?? 8;
  const TX = BN / TN;
  const TY = BM / TM;
  const T = TX * TY;
  if (TM % 4 || TN % 4 || BM % TM || BN % TN || (BM * BK) % T || (BK * BN) % T) {
    throw new Error(`tiledGemmKernel: bad config ${JSON.stringify(cfg)}`);
  }
  const bindings = [
    { name: 'A', access: 'read' as const },
    { name: 'B', access: 'read' as const },
    { name: 'C', access: 'read_write' as const },
  ];
  const rowVecs = range(TM / 4);
  const colVecs = range(TN / 4);
  const rows = range(TM);

  // Element e of a tile load -> (m, k) of op(A) (or (k, n) of op(B)), walking the contiguous axis fastest.
  const aCoords = cfg.transA
    ? `let k = e / ${BM}u; let m = e % ${BM}u;`
    : `let m = e / ${BK}u; let k = e % ${BK}u;`;
  const bCoords = cfg.transB
    ? `let n = e / ${BK}u; let k = e % ${BK}u;`
    : `let k = e / ${BN}u; let n = e % ${BN}u;`;

  const code = /* wgsl */ `
${paramsStruct(GEMM_UNIFORMS)}
${bindingDecls(bindings, true)}

var<workgroup> As: array<vec4<f32>, ${(BK * BM) / 4}>; // As[k][m], BM/4 vec4s per k
var<workgroup> Bs: array<vec4<f32>, ${(BK * BN) / 4}>; // Bs[k][n], BN/4 vec4s per k

@compute @workgroup_size(${TX}, ${TY})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let m0 = wid.y * ${BM}u;
  let n0 = wid.x * ${BN}u;
  for (var b = wid.z; b < p.batch; b += groups.z) {
    let aBase = p.offA + b * p.strideA;
    let bBase = p.offB + b * p.strideB;
    let cBase = p.offC + b * p.strideC;
${rows.flatMap((i) => colVecs.map((j) => `    var acc${i}_${j} = vec4<f32>(0.0);`)).join('\n')}
    for (var k0 = 0u; k0 < p.K; k0 += ${BK}u) {
      workgroupBarrier(); // the previous step has finished reading the tiles
      for (var e = t; e < ${BM * BK}u; e += ${T}u) {
        ${aCoords}
        let gm = m0 + m;
        let gk = k0 + k;
        let ok = gm < p.M && gk < p.K;
        let v = A[select(0u, ${indexA(cfg.transA, 'gm', 'gk')}, ok)];
        As[k * ${BM / 4}u + m / 4u][m % 4u] = select(0.0, v, ok);
      }
      for (var e = t; e < ${BK * BN}u; e += ${T}u) {
        ${bCoords}
        let gn = n0 + n;
        let gk = k0 + k;
        let ok = gn < p.N && gk < p.K;
        let v = B[select(0u, ${indexB(cfg.transB, 'gk', 'gn')}, ok)];
        Bs[k * ${BN / 4}u + n / 4u][n % 4u] = select(0.0, v, ok);
      }
      workgroupBarrier();
      for (var kk = 0u; kk < ${BK}u; kk++) {
${rowVecs.map((q) => `        let a${q} = As[kk * ${BM / 4}u + lid.y * ${TM / 4}u + ${q}u];`).join('\n')}
${colVecs.map((j) => `        let b${j} = Bs[kk * ${BN / 4}u + lid.x * ${TN / 4}u + ${j}u];`).join('\n')}
${rows
  .map((i) => {
    const s = `vec4<f32>(a${Math.floor(i / 4)}.${'xyzw'[i % 4]})`;
    return `        ${colVecs.map((j) => `acc${i}_${j} = fma(${s}, b${j}, acc${i}_${j});`).join(' ')}`;
  })
  .join('\n')}
      }
    }
    let rowBase = m0 + lid.y * ${TM}u;
    let colBase = n0 + lid.x * ${TN}u;
${storeTile(false, cfg.accumulate, 'rowBase', 'colBase', TM, TN / 4)}
  }
}`;

  return {
    key: `gemmTiled:${flagKey(cfg)}:${BM}x${BN}x${BK}:${TM}x${TN}`,
    name: `gemm.tiled.${flagKey(cfg)}`,
    code,
    bindings: bindings.map((b) => b.access),
    uniforms: GEMM_UNIFORMS,
    dispatch: (u) => [
      groupsFor(Number(u.N), BN),
      groupsFor(Number(u.M), BM),
      Math.min(MAX_BATCH_GROUPS, Math.max(1, Number(u.batch))),
    ],
  };
}
