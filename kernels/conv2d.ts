// conv2d as an implicit GEMM (no im2col buffer): C[m, col] = Σ_k A(m, k)·B[k, col], with
//   A(m, k) = src[rowBase(m) + kOff[k]]   src zero-padded, so no tap needs a bounds check
//   B       = wt, dense row-major [K rounded up to the subgroup size, colsV4·4] (vec4 loads)
//   C[m, col] → out[outBase(m) + col·colStride + split·splitStride] (+ bias[col])
// rowBase and outBase split m = (a·d1 + b)·d2 + c once and return a·s0 + b·s1 + c·s2 + base with
// the strides in `rs` and in `os`. kernels/conv2d-geometry.ts says what m, k and col are for the forward
// pass, the stride phases of dX, and dW.
//
// Subgroup kernel (the lavapipe cost model of shared/docs/lavapipe-performance.md: count loads,
// shuffles are nearly free): a subgroup of S lanes owns TM rows (uniform across its lanes) × S·8 columns;
// each lane accumulates TM × 8 outputs in 2·TM vec4 registers. Per S values of k, lane l loads
// A(row, k0 + l) once per row (scalar) and a rolled loop hands them out with subgroupShuffle,
// while each lane loads its 8 columns of B as 2 vec4. The row bases live one per lane and reach
// the other lanes by subgroupBroadcast, so they cost ceil(TM / S) registers instead of TM.
// TM = 24 (lib/ops/conv.ts) measured 10–20 % faster than 16 or 32 (32 spills).
// Workgroup (S, 64/S): lid.x is the lane, lid.y the subgroup, which relies on subgroups being
// consecutive invocations (true on lavapipe, checked by the tests).
//
// Edges: rows ≥ M read row base 0 and are not stored; k ≥ the split's end loads 0 (select); the
// lanes past the last column clamp their B loads into the row and store nothing; wt has zero rows
// up to a multiple of S and zero columns up to a multiple of 8.
// Split-K: workgroup z = fold·splits + split; split s reduces k in [s·chunk, min(K, (s+1)·chunk))
// (chunk a multiple of S) into its own slice of out. Row groups beyond 65535 (or the `maxGridY`
// of the spec) fold into z.
import { bindingDecls, paramsStruct, type KernelSpec, type UniformField } from './spec';

export const MAX_GRID = 65535;

export const igemmUniforms: UniformField[] = [
  { name: 'm', type: 'u32' },
  { name: 'cols', type: 'u32' },
  { name: 'colsV4', type: 'u32' },
  { name: 'k', type: 'u32' },
  { name: 'chunk', type: 'u32' },
  { name: 'splits', type: 'u32' },
  { name: 'colStride', type: 'u32' },
  { name: 'splitStride', type: 'u32' },
  { name: 'd1', type: 'u32' },
  { name: 'd2', type: 'u32' },
  { name: 'rs', type: 'vec4<u32>' },
  { name: 'os', type: 'vec4<u32>' },
];

export function igemmBindings(bias: boolean): { name: string; access: 'read' | 'read_write'; type?: string }[] {
  return [
    { name: 'src', access: 'read' },
    { name: 'koff', access: 'read', type: 'array<u32>' },
    { name: 'wt', access: 'read', type: 'array<vec4<f32>>' },
    { name: 'out', access: 'read_write' },
    ...(bias ? [{ name: 'bias', access: 'read' as const }] : []),
  ];
}

/** WGSL shared by the GEMM kernels (wide, narrow, no subgroups): the index maps and the guarded store. */
export function igemmHelpers(bias: boolean): string {
  return /* wgsl */ `
// (row base, out base) of row m; the row base is 0 past the last row, so loads stay in bounds.
fn bases(m: u32) -> vec2<u32> {
  let t = m / p.d2;
  let c = m - t * p.d2;
  let a = t / p.d1;
  let b = t - a * p.d1;
  let rb = a * p.rs.x + b * p.rs.y + c * p.rs.z + p.rs.w;
  return vec2<u32>(select(0u, rb, m < p.m), a * p.os.x + b * p.os.y + c * p.os.z + p.os.w);
}
fn put(base: u32, col: u32, v: f32) {
  if (col < p.cols) { out[base + col * p.colStride] = v${bias ? ' + bias[col]' : ''}; }
}
fn put8(base: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
  put(base, col, lo.x); put(base, col + 1u, lo.y); put(base, col + 2u, lo.z); put(base, col + 3u, lo.w);
  put(base, col + 4u, hi.x); put(base, col + 5u, hi.y); put(base, col + 6u, hi.z); put(base, col + 7u, hi.w);
}`;
}

/**
 * Workgroups for a launch of a kernel whose workgroup covers rowsPerGroup × colsPerGroup: x the
 * column groups, y up to maxGridY row groups, z = folds·splits (the kernels read the fold size
 * from num_workgroups.y, so a smaller maxGridY only changes the grid, never the results).
 */
export function igemmDispatch(rowsPerGroup: number, colsPerGroup: number, maxGridY = MAX_GRID) {
  return (u: Record<string, unknown>): [number, number, number] => {
    const rowGroups = Math.max(1, Math.ceil(Number(u.m) / rowsPerGroup));
    const colGroups = Math.max(1, Math.ceil(Number(u.cols) / colsPerGroup));
    const folds = Math.ceil(rowGroups / maxGridY);
    return [colGroups, Math.min(rowGroups, maxGridY), folds * Number(u.splits)];
  };
}

export interface IgemmTile {
  rowsPerGroup: number;
  colsPerGroup: number;
  /** wt must hold zero rows up to a multiple of this. */
  kMultiple: number;
}

export function subgroupTile(subgroupSize: number, tm = 16, wgy = Math.max(1, 64 / subgroupSize)): IgemmTile {
  return { rowsPerGroup: tm * wgy, colsPerGroup: subgroupSize * 8, kMultiple: subgroupSize };
}

/** The implicit GEMM with subgroup shuffles: subgroup size `s`, `tm` rows per subgroup, `wgy` subgroups per workgroup. */
export function igemmSubgroupKernel(s: number, bias: boolean, tm = 16, wgy = Math.max(1, 64 / s), maxGridY = MAX_GRID): KernelSpec {
  if (!Number.isInteger(Math.log2(s)) || s < 4 || s > 128) throw new Error(`conv2d kernel: unsupported subgroup size ${s}`);
  const nr = Math.ceil(tm / s); // row-base registers per lane
  const rows = [...Array(tm).keys()];
  const bindings = igemmBindings(bias);
  const rowReg = (i: number) => `subgroupBroadcast(rb${Math.floor(i / s)}, ${i % s}u)`;
  const outReg = (i: number) => `subgroupBroadcast(ob${Math.floor(i / s)}, ${i % s}u)`;
  const code = /* wgsl */ `
enable subgroups;
diagnostic(off, subgroup_uniformity);
${paramsStruct(igemmUniforms)}
${bindingDecls(bindings, true)}
${igemmHelpers(bias)}

@compute @workgroup_size(${s}, ${wgy})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
  let split = wid.z % p.splits;
  let rowGroup = (wid.z / p.splits) * nwg.y + wid.y;
  let row0 = (rowGroup * ${wgy}u + lid.y) * ${tm}u;
  if (row0 >= p.m) { return; } // the whole subgroup leaves together
  let col0 = (wid.x * ${s}u + lid.x) * 8u;
  let col4 = min(col0 / 4u, p.colsV4 - 2u);
${[...Array(nr).keys()].map((r) => `  let base${r} = bases(row0 + ${r * s}u + lane);\n  let rb${r} = base${r}.x;`).join('\n')}
  let kBegin = split * p.chunk;
  let kEnd = min(p.k, kBegin + p.chunk);
${rows.map((i) => `  var c${i}a = vec4<f32>(0.0); var c${i}b = vec4<f32>(0.0);`).join('\n')}
  for (var k0 = kBegin; k0 < kEnd; k0 += ${s}u) {
    let kk = k0 + lane;
    let live = kk < kEnd;
    let off = koff[kk];
${rows.map((i) => `    let a${i} = select(0.0, src[${rowReg(i)} + off], live);`).join('\n')}
    var bi = k0 * p.colsV4 + col4;
    for (var u = 0u; u < ${s}u; u++) {
      let b0 = wt[bi];
      let b1 = wt[bi + 1u];
      bi += p.colsV4;
${rows.map((i) => `      { let a = vec4<f32>(subgroupShuffle(a${i}, u)); c${i}a = fma(a, b0, c${i}a); c${i}b = fma(a, b1, c${i}b); }`).join('\n')}
    }
  }
  let splitOff = split * p.splitStride;
${[...Array(nr).keys()].map((r) => `  let ob${r} = base${r}.y + splitOff;`).join('\n')}
${rows.map((i) => `  { let ob = ${outReg(i)}; if (row0 + ${i}u < p.m) { put8(ob, col0, c${i}a, c${i}b); } }`).join('\n')}
}`;
  const tile = subgroupTile(s, tm, wgy);
  return {
    key: `conv2d.igemm.sg:${s}:${tm}:${wgy}:${bias ? 'bias' : 'nobias'}:${maxGridY}`,
    name: 'conv2d.igemm',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms: igemmUniforms,
    requires: ['subgroups'],
    dispatch: igemmDispatch(tile.rowsPerGroup, tile.colsPerGroup, maxGridY),
  };
}
