// conv2d implicit GEMM without subgroups: the same operands, uniforms, bindings and edge rules as
// kernels/conv2d.ts (read its header for the math and the layout, rows in quads of 4), for
// devices or browsers that lack the `subgroups` feature.
//
// Each invocation owns 2 quads × 8 contiguous columns (8 rows × 8 columns, 16 vec4 accumulators)
// and, for every k, loads one vec4 of A per quad and 2 vec4 of B. Workgroup (8, 8): lid.x walks
// the columns, lid.y the quad pairs; 16 quads (64 rows) × 64 columns per workgroup. The `narrow`
// variant (for outputs with few columns) gives all 64 invocations their own quads and the same
// 8 columns: 128 quads (512 rows) × 8 columns per workgroup.
// The k loop runs exactly over the split's range, so wt needs no padded rows here.
import { igemmBindings, igemmDispatch, igemmHelpers, igemmUniforms, MAX_GRID, quadFmas, storeQuad, variantKey, type IgemmTile, type IgemmVariant } from './conv2d';
import { bindingDecls, paramsStruct, type KernelSpec } from './spec';

const TQ = 2;

export function fallbackTile(narrow: boolean): IgemmTile {
  return narrow ? { rowsPerGroup: 64 * TQ, colsPerGroup: 8, kMultiple: 1 } : { rowsPerGroup: 8 * TQ, colsPerGroup: 64, kMultiple: 1 };
}

export function igemmFallbackKernel(variant: IgemmVariant, narrow = false, maxGridY = MAX_GRID): KernelSpec {
  const quads = [...Array(TQ).keys()];
  const bindings = igemmBindings(variant);
  const code = /* wgsl */ `
${paramsStruct(igemmUniforms)}
${bindingDecls(bindings, true)}
${igemmHelpers(variant)}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let split = wid.z % p.splits;
  let rowGroup = (wid.z / p.splits) * nwg.y + wid.y;
  let q0 = ${narrow ? '(rowGroup * 64u + lid.y * 8u + lid.x)' : '(rowGroup * 8u + lid.y)'} * ${TQ}u;
  if (q0 >= p.m) { return; }
  let col0 = ${narrow ? 'wid.x * 8u' : '(wid.x * 8u + lid.x) * 8u'};
  let col4 = min(col0 / 4u, p.colsV4 - 2u);
${quads.map((j) => `  let info${j} = quad(q0 + ${j}u);\n  let rb${j} = info${j}.x;`).join('\n')}
  let kBegin = split * p.chunk;
  let kEnd = min(p.k, kBegin + p.chunk);
${quads.map((j) => [0, 1, 2, 3].map((l) => `  var c${4 * j + l}a = vec4<f32>(0.0); var c${4 * j + l}b = vec4<f32>(0.0);`).join('\n')).join('\n')}
  for (var k = kBegin; k < kEnd; k++) {
    let off = koff[k];
    let bi = k * p.colsV4 + col4;
    let b0 = wt[bi];
    let b1 = wt[bi + 1u];
${quadFmas(quads, '    ')}
  }
  let splitOff = split * p.splitStride;
${quads.map((j) => `  ${storeQuad(j, `info${j}`, variant.vecOut)}`).join('\n')}
}`;
  const tile = fallbackTile(narrow);
  return {
    key: `conv2d.igemm.plain:${variantKey(variant)}:${narrow ? 'narrow' : 'wide'}:${maxGridY}`,
    name: 'conv2d.igemm.plain',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms: igemmUniforms,
    dispatch: igemmDispatch(tile.rowsPerGroup, tile.colsPerGroup, maxGridY),
  };
}
