// Operand preparation for the conv2d implicit GEMMs (kernels/conv2d.ts), all memory-bound:
//
// pad2d:    out[q, y, x] = src[q, y − top, x − left] inside the source, else 0, for planes q of
//           h×w copied into hp×wp. One invocation per output row (q, y) in a grid-stride loop, so
//           the division into (q, y) is paid once per row. Every position of out is written.
// gather:   B[k, col] = src[map(k) + col·colStride] for k < rows and col < cols, else 0, over a
//           [rowsPadded, cols8] row-major array (cols8 a multiple of 8, so whole vec4 are written
//           and the GEMM's 8-column lane tiles never leave a row). map(k) splits
//           k = (a·d1 + b)·d2 + c and returns a·s0 + b·s1 + c·s2 + base in i32 (the dX weights
//           walk the taps backwards, so strides may be negative; every index of a real row is
//           ≥ 0). Zero rows load nothing; zero columns load a clamped in-range element and drop it.
// offsets:  kOff[k] = map(k) as u32 for k < rows, else 0, over rowsPadded entries.
// Shapes, strides and sizes are uniforms; each kernel serves every shape.
import { bindingDecls, groupsFor, paramsStruct, type KernelSpec, type UniformField } from './spec';

const WG = 64;
const MAX_GROUPS = 512;

const MAP_HELPER = /* wgsl */ `
fn index_map(i: u32) -> i32 {
  let c = i % p.d2;
  let t = i / p.d2;
  let b = t % p.d1;
  let a = t / p.d1;
  return i32(a) * p.s.x + i32(b) * p.s.y + i32(c) * p.s.z + p.s.w;
}`;

const mapFields: UniformField[] = [
  { name: 'd1', type: 'u32' },
  { name: 'd2', type: 'u32' },
  { name: 's', type: 'vec4<i32>' }, // s0, s1, s2, base
];

/** Zero-padded copy. Bindings: src, out. Uniforms: rows (= planes·hp), h, w, hp, wp, top, left. */
export function pad2dKernel(): KernelSpec {
  const uniforms: UniformField[] = ['rows', 'h', 'w', 'hp', 'wp', 'top', 'left'].map((name) => ({ name, type: 'u32' as const }));
  const bindings = [
    { name: 'src', access: 'read' as const },
    { name: 'out', access: 'read_write' as const },
  ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${WG}u;
  for (var row = gid.x; row < p.rows; row += stride) {
    let q = row / p.hp;
    let y = row - q * p.hp;
    let dst = row * p.wp;
    let sy = y - p.top; // wraps to a huge value above the source, so one compare checks both ends
    if (sy >= p.h) {
      for (var x = 0u; x < p.wp; x++) { out[dst + x] = 0.0; }
      continue;
    }
    let srcRow = (q * p.h + sy) * p.w;
    for (var x = 0u; x < p.wp; x++) {
      let sx = x - p.left;
      var v = 0.0;
      if (sx < p.w) { v = src[srcRow + sx]; }
      out[dst + x] = v;
    }
  }
}`;
  return {
    key: 'conv2d.pad',
    name: 'conv2d.pad',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => [Math.min(MAX_GROUPS, groupsFor(Number(u.rows), WG)), 1, 1],
  };
}

/**
 * Dense GEMM operand gathered from src. One invocation per row k (grid-stride), so the index
 * map is evaluated once per row; it then writes the row's vec4s. Neighbouring lanes take
 * neighbouring k, whose sources are close together in every use (weights, dY).
 * Bindings: src, out (vec4). Uniforms: total (= rowsPadded), cols4 (= cols8 / 4), rows, cols,
 * colStride, d1, d2, s.
 */
export function gatherKernel(): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'total', type: 'u32' },
    { name: 'cols4', type: 'u32' },
    { name: 'rows', type: 'u32' },
    { name: 'cols', type: 'u32' },
    { name: 'colStride', type: 'u32' },
    ...mapFields,
  ];
  const bindings = [
    { name: 'src', access: 'read' as const },
    { name: 'out', access: 'read_write' as const, type: 'array<vec4<f32>>' },
  ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
${MAP_HELPER}
fn at(base: u32, col: u32) -> f32 {
  return select(0.0, src[base + min(col, p.cols - 1u) * p.colStride], col < p.cols);
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${WG}u;
  for (var k = gid.x; k < p.total; k += stride) {
    let dst = k * p.cols4;
    if (k >= p.rows) {
      for (var c4 = 0u; c4 < p.cols4; c4++) { out[dst + c4] = vec4<f32>(0.0); }
      continue;
    }
    let base = u32(index_map(k));
    for (var c4 = 0u; c4 < p.cols4; c4++) {
      let col = c4 * 4u;
      out[dst + c4] = vec4<f32>(at(base, col), at(base, col + 1u), at(base, col + 2u), at(base, col + 3u));
    }
  }
}`;
  return {
    key: 'conv2d.gather',
    name: 'conv2d.gather',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => [Math.min(MAX_GROUPS, groupsFor(Number(u.total), WG)), 1, 1],
  };
}

/** Offset table. Bindings: out (u32). Uniforms: total (rowsPadded), rows, d1, d2, s. */
export function offsetsKernel(): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'total', type: 'u32' },
    { name: 'rows', type: 'u32' },
    ...mapFields,
  ];
  const bindings = [{ name: 'out', access: 'read_write' as const, type: 'array<u32>' }];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
${MAP_HELPER}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${WG}u;
  for (var i = gid.x; i < p.total; i += stride) {
    out[i] = select(0u, u32(index_map(i)), i < p.rows);
  }
}`;
  return {
    key: 'conv2d.offsets',
    name: 'conv2d.offsets',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => [Math.min(MAX_GROUPS, groupsFor(Number(u.total), WG)), 1, 1],
  };
}
