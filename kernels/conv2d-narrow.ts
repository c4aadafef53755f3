// conv2d implicit GEMM for narrow outputs (few columns, e.g. dX of a 3-channel input): the same
// operands, uniforms, bindings and edge rules as kernels/conv2d.ts (read its header for the math
// and the layout), with the lanes spread over rows instead of columns.
//
// In the wide kernel a subgroup owns S·8 columns, so with 3 columns 61 of every 64 computed
// columns are thrown away. Here every lane owns TR = 8 rows (row0 + lane + S·i) × the same 8
// columns (wid.x picks the 8-column block). Per S values of k, lane l loads kOff[k0 + l] and its
// 2 vec4 of B row k0 + l; a rolled loop hands them to all lanes with subgroupShuffle, and each
// lane loads its own 8 A values per k (8 scalar loads per 64 multiply-adds, against 8 per 128 in
// the wide kernel, but no wasted columns). Workgroup (S, 64/S): S·8·(64/S) = 512 rows per group.
//
// Edges: rows ≥ M read row base 0 and are not stored; the inner loop stops at the split's end
// (a bound uniform over the subgroup), so dead k are never used; B loads of lanes past the end
// stay inside wt (padded to a multiple of S rows); columns ≥ cols are not stored.
import { igemmBindings, igemmDispatch, igemmHelpers, igemmUniforms, MAX_GRID, type IgemmTile } from './conv2d';
import { bindingDecls, paramsStruct, type KernelSpec } from './spec';

const TR = 8;

export function narrowTile(subgroupSize: number): IgemmTile {
  return { rowsPerGroup: TR * 64, colsPerGroup: 8, kMultiple: subgroupSize };
}

export function igemmNarrowKernel(s: number, bias: boolean, maxGridY = MAX_GRID): KernelSpec {
  if (!Number.isInteger(Math.log2(s)) || s < 4 || s > 64) throw new Error(`conv2d kernel: unsupported subgroup size ${s}`);
  const wgy = 64 / s;
  const rows = [...Array(TR).keys()];
  const bindings = igemmBindings(bias);
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
  let row0 = (rowGroup * ${wgy}u + lid.y) * ${TR * s}u;
  if (row0 >= p.m) { return; } // the whole subgroup leaves together
  let col0 = wid.x * 8u;
  let col4 = col0 / 4u;
${rows.map((i) => `  let base${i} = bases(row0 + lane + ${i * s}u);\n  let rb${i} = base${i}.x;`).join('\n')}
  let kBegin = split * p.chunk;
  let kEnd = min(p.k, kBegin + p.chunk);
${rows.map((i) => `  var c${i}a = vec4<f32>(0.0); var c${i}b = vec4<f32>(0.0);`).join('\n')}
  for (var k0 = kBegin; k0 < kEnd; k0 += ${s}u) {
    let kk = k0 + lane;
    let offl = koff[kk];
    let b0l = wt[kk * p.colsV4 + col4];
    let b1l = wt[kk * p.colsV4 + col4 + 1u];
    let steps = min(${s}u, kEnd - k0);
    for (var u = 0u; u < steps; u++) {
      let off = subgroupShuffle(offl, u);
      let b0 = subgroupShuffle(b0l, u);
      let b1 = subgroupShuffle(b1l, u);
${rows.map((i) => `      { let a = vec4<f32>(src[rb${i} + off]); c${i}a = fma(a, b0, c${i}a); c${i}b = fma(a, b1, c${i}b); }`).join('\n')}
    }
  }
  let splitOff = split * p.splitStride;
${rows.map((i) => `  if (row0 + lane + ${i * s}u < p.m) { put8(base${i}.y + splitOff, col0, c${i}a, c${i}b); }`).join('\n')}
}`;
  const tile = narrowTile(s);
  return {
    key: `conv2d.igemm.narrow:${s}:${bias ? 'bias' : 'nobias'}:${maxGridY}`,
    name: 'conv2d.igemm.narrow',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms: igemmUniforms,
    requires: ['subgroups'],
    dispatch: igemmDispatch(tile.rowsPerGroup, tile.colsPerGroup, maxGridY),
  };
}
