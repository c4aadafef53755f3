// Batched 2-D transpose into a dense, vec4-aligned array:
//   out[b·rowsPad·cols + c·rowsPad + r] = src[off + b·stride + r·ld + c]   for r < rows, c < cols,
//   and 0 for rows ≤ r < rowsPad (rowsPad = rows rounded up to 4, so every output row starts on a
//   vec4 boundary).
// Used by the GEMM to turn a transposed B operand into a row-major one: the register-tile kernel
// reads row-major B with one vec4 per lane along N (consecutive lanes, consecutive addresses),
// while a transposed B costs it one cache line per lane and step.
// One invocation per 4×4 block (r4, c4), c4 fastest: 16 scalar loads from 4 source rows
// (neighbouring invocations read neighbouring columns of the same rows) and 4 vec4 stores.
// Loads past the source's rows or columns are replaced by 0 (the column padding is never stored).
// Grid-stride over blocks; batches in z (folded when more than the grid allows).
import { bindingDecls, gridStride, paramsStruct, u32Fields, type KernelSpec } from './spec';

const WG = 64;
const MAX_GROUPS = 1024;

export function transposeKernel(): KernelSpec {
  const uniforms = u32Fields('rows', 'cols', 'ld', 'off', 'stride', 'batch', 'rows4', 'cols4', 'rowsPad');
  const bindings = [
    { name: 'src', access: 'read' as const },
    { name: 'out', access: 'read_write' as const, type: 'array<vec4<f32>>' },
  ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
fn at(base: u32, r: u32, c: u32) -> f32 {
  let inside = r < p.rows && c < p.cols;
  return select(0.0, src[select(0u, base + r * p.ld + c, inside)], inside);
}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let step = groups.x * ${WG}u;
  let blocks = p.rows4 * p.cols4;
  let q = p.rowsPad / 4u; // vec4s per output row
  for (var b = gid.z; b < p.batch; b += groups.z) {
    let base = p.off + b * p.stride;
    let dst = b * p.cols * q;
    for (var i = gid.x; i < blocks; i += step) {
      let r = (i / p.cols4) * 4u;
      let c = (i % p.cols4) * 4u;
      let r0 = vec4<f32>(at(base, r, c), at(base, r, c + 1u), at(base, r, c + 2u), at(base, r, c + 3u));
      let r1 = vec4<f32>(at(base, r + 1u, c), at(base, r + 1u, c + 1u), at(base, r + 1u, c + 2u), at(base, r + 1u, c + 3u));
      let r2 = vec4<f32>(at(base, r + 2u, c), at(base, r + 2u, c + 1u), at(base, r + 2u, c + 2u), at(base, r + 2u, c + 3u));
      let r3 = vec4<f32>(at(base, r + 3u, c), at(base, r + 3u, c + 1u), at(base, r + 3u, c + 2u), at(base, r + 3u, c + 3u));
      let o = dst + c * q + r / 4u;
      out[o] = vec4<f32>(r0.x, r1.x, r2.x, r3.x);
      if (c + 1u < p.cols) { out[o + q] = vec4<f32>(r0.y, r1.y, r2.y, r3.y); }
      if (c + 2u < p.cols) { out[o + 2u * q] = vec4<f32>(r0.z, r1.z, r2.z, r3.z); }
      if (c + 3u < p.cols) { out[o + 3u * q] = vec4<f32>(r0.w, r1.w, r2.w, r3.w); }
    }
  }
}`;
  return {
    key: 'transpose.v4',
    name: 'transpose',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => {
      const [x] = gridStride(Number(u.rows4) * Number(u.cols4), WG, MAX_GROUPS);
      return [x, 1, Math.min(Number(u.batch), 65535)];
    },
  };
}
