// conv2d implicit GEMM without subgroups: the same operands, uniforms, bindings and edge rules as
// kernels/conv2d.ts (read its header for the math and the layout), for devices or browsers that
// lack the `subgroups` feature.
//
// Each invocation owns an 8 × 8 register tile (8 rows × 8 contiguous columns, 16 vec4
// accumulators) and, for every k, loads its 8 A values as scalars and 2 vec4 of B. Workgroup
// (8, 8): lid.x walks the columns, lid.y the row tiles; 64 rows × 64 columns per workgroup.
// The `narrow` variant (for outputs with few columns) gives all 64 invocations their own rows
// and the same 8 columns: 512 rows × 8 columns per workgroup.
// The k loop runs exactly over the split's range, so wt needs no padded rows here.
import { igemmBindings, igemmDispatch, igemmHelpers, igemmUniforms, MAX_GRID, type IgemmTile } from './conv2d';
import { bindingDecls, paramsStruct, type KernelSpec } from './spec';

const TM = 8;

export function fallbackTile(narrow: boolean): IgemmTile {
  return narrow ? { rowsPerGroup: 512, colsPerGroup: 8, kMultiple: 1 } : { rowsPerGroup: 64, colsPerGroup: 64, kMultiple: 1 };
}

export function igemmFallbackKernel(bias: boolean, narrow = false, maxGridY = MAX_GRID): KernelSpec {
  const rows = [...Array(TM).keys()];
  const bindings = igemmBindings(bias);
  const code = /* wgsl */ `
${paramsStruct(igemmUniforms)}
${bindingDecls(bindings, true)}
${igemmHelpers(bias)}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let split = wid.z % p.splits;
  let rowGroup = (wid.z / p.splits) * nwg.y + wid.y;
  let row0 = ${narrow ? '(rowGroup * 64u + lid.y * 8u + lid.x)' : '(rowGroup * 8u + lid.y)'} * ${TM}u;
  if (row0 >= p.m) { return; }
  let col0 = ${narrow ? 'wid.x * 8u' : '(wid.x * 8u + lid.x) * 8u'};
  let col4 = min(col0 / 4u, p.colsV4 - 2u);
${rows.map((i) => `  let rb${i} = bases(row0 + ${i}u).x;`).join('\n')}
  let kBegin = split * p.chunk;
  let kEnd = min(p.k, kBegin + p.chunk);
${rows.map((i) => `  var c${i}a = vec4<f32>(0.0); var c${i}b = vec4<f32>(0.0);`).join('\n')}
  for (var k = kBegin; k < kEnd; k++) {
    let off = koff[k];
    let bi = k * p.colsV4 + col4;
    let b0 = wt[bi];
    let b1 = wt[bi + 1u];
${rows.map((i) => `    { let a = vec4<f32>(src[rb${i} + off]); c${i}a = fma(a, b0, c${i}a); c${i}b = fma(a, b1, c${i}b); }`).join('\n')}
  }
  let splitOff = split * p.splitStride;
${rows.map((i) => `  if (row0 + ${i}u < p.m) { put8(bases(row0 + ${i}u).y + splitOff, col0, c${i}a, c${i}b); }`).join('\n')}
}`;
  return {
    key: `conv2d.igemm.plain:${bias ? 'bias' : 'nobias'}:${narrow ? 'narrow' : 'wide'}:${maxGridY}`,
    name: 'conv2d.igemm.plain',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms: igemmUniforms,
    dispatch: igemmDispatch(fallbackTile(narrow).rowsPerGroup, fallbackTile(narrow).colsPerGroup, maxGridY),
  };
}
