// conv2d implicit GEMM for narrow outputs (few columns, e.g. dX of a 3-channel input): the same
// operands, uniforms, bindings and edge rules as kernels/conv2d.ts (read its header for the math
// and the layout, rows in quads of 4), with the lanes spread over quads instead of columns.
//
// In the wide kernel a subgroup owns S·8 columns, so with 3 columns 61 of every 64 computed
// columns are thrown away. Here every lane owns TQ = 2 quads (q0 + lane + S·i: 8 rows) × the same
// 8 columns (wid.x picks the 8-column block). Per S values of k, lane l loads kOff[k0 + l] and its
// 2 vec4 of B row k0 + l; a rolled loop hands them to all lanes with subgroupShuffle, and each
// lane loads its own 2 vec4 of A per k (2 loads per 64 multiply-adds, no wasted columns).
// Workgroup (S, 64/S): 64·TQ = 128 quads per group.
//
// Edges: quads ≥ m read row base 0 and are not stored, nor are rows past laneLimit; the inner loop
// stops at the split's end (a bound uniform over the subgroup), so dead k are never used; B loads
// of lanes past the end stay inside wt (padded to a multiple of S rows); columns ≥ cols are not stored.
import { igemmBindings, igemmDispatch, igemmHelpers, igemmUniforms, MAX_GRID, quadFmas, storeQuad, variantKey, type IgemmTile, type IgemmVariant } from './conv2d';
import { bindingDecls, paramsStruct, type KernelSpec } from './spec';

const TQ = 2;

export function narrowTile(subgroupSize: number): IgemmTile {
  return { rowsPerGroup: TQ * 64, colsPerGroup: 8, kMultiple: subgroupSize };
}

export function igemmNarrowKernel(s: number, variant: IgemmVariant, maxGridY = MAX_GRID): KernelSpec {
  if (!Number.isInteger(Math.log2(s)) || s < 4 || s > 64) throw new Error(`conv2d kernel: unsupported subgroup size ${s}`);
  const wgy = 64 / s;
  const quads = [...Array(TQ).keys()];
  const bindings = igemmBindings(variant);
  const code = /* wgsl */ `
enable subgroups;
diagnostic(off, subgroup_uniformity);
${paramsStruct(igemmUniforms)}
${bindingDecls(bindings, true)}
${igemmHelpers(variant)}

@compute @workgroup_size(${s}, ${wgy})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
  let split = wid.z % p.splits;
  let rowGroup = (wid.z / p.splits) * nwg.y + wid.y;
  let q0 = (rowGroup * ${wgy}u + lid.y) * ${TQ * s}u;
  if (q0 >= p.m) { return; } // the whole subgroup leaves together
  let col0 = wid.x * 8u;
  let col4 = col0 / 4u;
${quads.map((j) => `  let info${j} = quad(q0 + lane + ${j * s}u);\n  let rb${j} = info${j}.x;`).join('\n')}
  let kBegin = split * p.chunk;
  let kEnd = min(p.k, kBegin + p.chunk);
${quads.map((j) => [0, 1, 2, 3].map((l) => `  var c${4 * j + l}a = vec4<f32>(0.0); var c${4 * j + l}b = vec4<f32>(0.0);`).join('\n')).join('\n')}
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
${quadFmas(quads, '      ')}
    }
  }
  let splitOff = split * p.splitStride;
${quads.map((j) => `  ${storeQuad(j, `info${j}`, variant.vecOut)}`).join('\n')}
}`;
  const tile = narrowTile(s);
  return {
    key: `conv2d.igemm.narrow:${s}:${variantKey(variant)}:${maxGridY}`,
    name: 'conv2d.igemm.narrow',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms: igemmUniforms,
    requires: ['subgroups'],
    dispatch: igemmDispatch(tile.rowsPerGroup, tile.colsPerGroup, maxGridY),
  };
}
