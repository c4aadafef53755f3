// Operand preparation for the conv2d implicit GEMMs (kernels/conv2d.ts), all memory-bound:
//
// quads:    the "quad layout" copy that A is read from (kernels/conv2d-geometry.ts):
//           out[(P·hp + y)·wp + x] (a vec4) has in lane l
//             src[plane(P, l)·planeSize + (y − top)·rowStep + (x − left)·colStep]
//           with plane(P, l) = a·sa + b·sb + l·sl, P = a·inner + b (planeSize = h·w, rowStep = w,
//           colStep = 1 for whole planes; larger steps subsample), when (y − top, x − left) lies
//           inside the h×w (logical) source and
//           a·4 + l < limA and b·4 + l < limB; else 0. One invocation per output row (P, y) in a
//           grid-stride loop, so the divisions and the 4 source row bases are paid once per row;
//           each vec4 costs 4 scalar loads and one vec4 store, or, when w, planeSize and rowStep
//           are multiples of 4 and colStep is 1, one vec4 load (4 columns of one lane, transposed
//           in registers) and one vec4 store.
//           Every position of out is written.
// gather:   B[k, col] = src[map(k) + col·colStride] for k < rows and col < cols, else 0, over a
//           [rowsPadded, cols8] row-major array (cols8 a multiple of 8, so whole vec4 are written
//           and the GEMM's 8-column lane tiles never leave a row). map(k) splits
//           k = (a·d1 + b)·d2 + c and returns a·s0 + b·s1 + c·s2 + base in i32 (the dX weights
//           walk the taps backwards, so strides may be negative; every index of a real row is
//           ≥ 0). Zero rows load nothing; zero columns load a clamped in-range element and drop it.
//           Where 4 consecutive rows read 4 consecutive aligned floats (the forward's weights
//           when C·kh·kw is a multiple of 4, dY for dW when Ho·Wo is), a variant reads them as
//           one vec4 per column and transposes 4×4 blocks in registers.
// offsets:  kOff[k] = map(k) as u32 for k < rows, else 0, over rowsPadded entries.
// Shapes, strides and sizes are uniforms; each kernel serves every shape.
import { bindingDecls, gridStride, gridStrideKernel, paramsStruct, u32Fields, type KernelSpec, type UniformField } from './spec';

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

/**
 * Quad-layout copy. Bindings: src, out (vec4). Uniforms: rows (= outer·inner·hp), inner, h, w, hp,
 * wp, top, left, sa, sb, sl, limA, limB, planeSize, rowStep, colStep. With `vec4Source` (needs w,
 * planeSize and rowStep multiples of 4 and colStep 1, so source rows start on vec4 boundaries)
 * each lane plane is read 4 columns at a time and the 4×4 block is transposed in registers: one
 * vec4 load instead of 4 scalar loads per output vec4.
 */
export function quadLayoutKernel(vec4Source = false): KernelSpec {
  const uniforms = u32Fields('rows', 'inner', 'h', 'w', 'hp', 'wp', 'top', 'left', 'sa', 'sb', 'sl', 'limA', 'limB', 'planeSize', 'rowStep', 'colStep');
  const bindings = [
    { name: 'src', access: 'read' as const, type: vec4Source ? 'array<vec4<f32>>' : 'array<f32>' },
    { name: 'out', access: 'read_write' as const, type: 'array<vec4<f32>>' },
  ];
  const scalarBody = /* wgsl */ `
    for (var x = 0u; x < wp; x++) {
      let sx = x - left;
      let inside = sx < w;
      let at = sx * p.colStep;
      out[dst + x] = vec4<f32>(lane(inside && ok.x, base.x + at), lane(inside && ok.y, base.y + at),
                               lane(inside && ok.z, base.z + at), lane(inside && ok.w, base.w + at));
    }`;
  const vec4Body = /* wgsl */ `
    for (var x = 0u; x < left; x++) { out[dst + x] = vec4<f32>(0.0); }
    for (var x = left + w; x < wp; x++) { out[dst + x] = vec4<f32>(0.0); }
    let b4 = base / 4u;
    for (var i = 0u; i < w / 4u; i++) {
      let v0 = lane(ok.x, b4.x + i); let v1 = lane(ok.y, b4.y + i);
      let v2 = lane(ok.z, b4.z + i); let v3 = lane(ok.w, b4.w + i);
      let d = dst + left + 4u * i;
      out[d] = vec4<f32>(v0.x, v1.x, v2.x, v3.x);
      out[d + 1u] = vec4<f32>(v0.y, v1.y, v2.y, v3.y);
      out[d + 2u] = vec4<f32>(v0.z, v1.z, v2.z, v3.z);
      out[d + 3u] = vec4<f32>(v0.w, v1.w, v2.w, v3.w);
    }`;
  const t = vec4Source ? 'vec4<f32>' : 'f32';
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
fn lane(ok: bool, i: u32) -> ${t} {
  return select(${t}(0.0), src[select(0u, i, ok)], ok);
}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${WG}u;
  let hp = p.hp; let wp = p.wp; let w = p.w; let left = p.left;
  for (var row = gid.x; row < p.rows; row += stride) {
    let plane = row / hp;
    let y = row - plane * hp;
    let a = plane / p.inner;
    let b = plane - a * p.inner;
    let dst = row * wp;
    let sy = y - p.top; // wraps to a huge value above the source, so one compare checks both ends
    let first = a * p.sa + b * p.sb;
    let l4 = vec4<u32>(0u, 1u, 2u, 3u);
    let ok = vec4<bool>(sy < p.h) & (vec4<u32>(a * 4u) + l4 < vec4<u32>(p.limA)) & (vec4<u32>(b * 4u) + l4 < vec4<u32>(p.limB));
    let base = (vec4<u32>(first) + l4 * p.sl) * p.planeSize + vec4<u32>(sy * p.rowStep);
    if (!any(ok)) {
      for (var x = 0u; x < wp; x++) { out[dst + x] = vec4<f32>(0.0); }
      continue;
    }${vec4Source ? vec4Body : scalarBody}
  }
}`;
  return {
    key: `conv2d.quads:${vec4Source ? 'v4' : 's'}`,
    name: 'conv2d.quads',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => gridStride(Number(u.rows), WG, MAX_GROUPS),
  };
}

/**
 * Dense GEMM operand gathered from src. One invocation per row k (grid-stride), so the index
 * map is evaluated once per row; it then writes the row's vec4s. Neighbouring lanes take
 * neighbouring k, whose sources are close together in every use (weights, dY).
 * With `vec4Source` an invocation takes 4 rows whose sources are 4 consecutive, 16-byte aligned
 * floats in every column (the caller checks: see `gatherQuadsContiguous`), reads them as one
 * vec4 per column and transposes 4×4 blocks in registers: 4 vec4 loads instead of 16 scalar
 * loads per 4 output vec4s.
 * Bindings: src, out (vec4). Uniforms: total (= rowsPadded), cols4 (= cols8 / 4), rows, cols,
 * colStride, d1, d2, s.
 */
export function gatherKernel(vec4Source = false): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'total', type: 'u32' },
    { name: 'cols4', type: 'u32' },
    { name: 'rows', type: 'u32' },
    { name: 'cols', type: 'u32' },
    { name: 'colStride', type: 'u32' },
    ...mapFields,
  ];
  const bindings = [
    { name: 'src', access: 'read' as const, type: vec4Source ? 'array<vec4<f32>>' : 'array<f32>' },
    { name: 'out', access: 'read_write' as const, type: 'array<vec4<f32>>' },
  ];
  const scalar = /* wgsl */ `
fn at(base: u32, col: u32) -> f32 {
  return select(0.0, src[base + min(col, p.cols - 1u) * p.colStride], col < p.cols);
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${WG}u;
  let cols4 = p.cols4;
  for (var k = gid.x; k < p.total; k += stride) {
    let dst = k * cols4;
    if (k >= p.rows) {
      for (var c4 = 0u; c4 < cols4; c4++) { out[dst + c4] = vec4<f32>(0.0); }
      continue;
    }
    let base = u32(index_map(k));
    for (var c4 = 0u; c4 < cols4; c4++) {
      let col = c4 * 4u;
      out[dst + c4] = vec4<f32>(at(base, col), at(base, col + 1u), at(base, col + 2u), at(base, col + 3u));
    }
  }
}`;
  const quads = /* wgsl */ `
// The 4 rows' values of column col (a vec4; zeros past the last column).
fn at4(base4: u32, col: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), src[base4 + min(col, p.cols - 1u) * (p.colStride / 4u)], col < p.cols);
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${WG}u;
  let cols4 = p.cols4;
  for (var t = gid.x; t < p.total / 4u; t += stride) {
    let k = 4u * t;
    let dst = k * cols4;
    if (k >= p.rows) {
      for (var c4 = 0u; c4 < 4u * cols4; c4++) { out[dst + c4] = vec4<f32>(0.0); }
      continue;
    }
    let base4 = u32(index_map(k)) / 4u;
    for (var c4 = 0u; c4 < cols4; c4++) {
      let col = c4 * 4u;
      let v0 = at4(base4, col); let v1 = at4(base4, col + 1u); let v2 = at4(base4, col + 2u); let v3 = at4(base4, col + 3u);
      out[dst + c4] = vec4<f32>(v0.x, v1.x, v2.x, v3.x);
      out[dst + cols4 + c4] = vec4<f32>(v0.y, v1.y, v2.y, v3.y);
      out[dst + 2u * cols4 + c4] = vec4<f32>(v0.z, v1.z, v2.z, v3.z);
      out[dst + 3u * cols4 + c4] = vec4<f32>(v0.w, v1.w, v2.w, v3.w);
    }
  }
}`;
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
${MAP_HELPER}
${vec4Source ? quads : scalar}`;
  return {
    key: `conv2d.gather:${vec4Source ? 'v4' : 's'}`,
    name: 'conv2d.gather',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => gridStride(Number(u.total) / (vec4Source ? 4 : 1), WG, MAX_GROUPS),
  };
}

/**
 * Whether gatherKernel(true) may serve a gather: rows and rowsPadded multiples of 4, and every
 * group of 4 rows 4t..4t+3 reads 4 consecutive floats starting on a 16-byte boundary in each
 * column (its index map steps by 1 over runs of a multiple of 4 rows; base, strides and colStride
 * multiples of 4).
 */
export function gatherQuadsContiguous(g: { rows: number; colStride: number; d1: number; d2: number; s: [number, number, number]; base: number }, rowsPadded: number): boolean {
  const four = (x: number) => x % 4 === 0;
  const runs = g.d1 * g.d2 === 1 ? g.s[0] === 1 : four(g.d2) && g.s[2] === 1 && four(g.s[0]) && (g.d1 === 1 || four(g.s[1]));
  return runs && four(g.rows) && four(rowsPadded) && four(g.colStride) && four(g.base);
}

/** Offset table. Bindings: out (u32). Uniforms: total (rowsPadded), rows, d1, d2, s. */
export function offsetsKernel(): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'total', type: 'u32' },
    { name: 'rows', type: 'u32' },
    ...mapFields,
  ];
  return gridStrideKernel({
    key: 'conv2d.offsets',
    name: 'conv2d.offsets',
    uniforms,
    bindings: [{ name: 'out', access: 'read_write', type: 'array<u32>' }],
    helpers: MAP_HELPER,
    body: ['out[idx] = select(0u, u32(index_map(idx)), idx < p.rows);'],
  });
}
