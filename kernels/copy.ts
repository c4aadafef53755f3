// Data movement kernels.
//
// stridedCopy: out[i] = x[base + Σ_d c_d · strides[d]] where (c_0..c_{rank-1}) are the coordinates of
//   flat index i in the output shape. With permuted strides it transposes, with zero strides it
//   broadcasts, with an offset base it slices. Scalar loads and stores, grid-stride loop.
// blockCopy: copies a block [outer, len, inner] between two arrays that share `outer` and `inner`
//   but differ in the middle axis: dst[(o·dstAxis + dstStart + j)·inner + k] =
//   src[(o·srcAxis + srcStart + j)·inner + k]. Used by concat (each input into its place) and by
//   the gradient of slice (into a zeroed tensor). Elements of dst outside the block are untouched.
import { DIM_HELPER, dimsField } from './elementwise';
import { bindingDecls, gridStride, paramsStruct, type KernelSpec, type UniformField } from './spec';

const WG = 64;

export function stridedCopyKernel(): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'n', type: 'u32' },
    { name: 'rank', type: 'u32' },
    { name: 'base', type: 'u32' },
    dimsField('shape'),
    dimsField('strides'),
  ];
  const bindings = [
    { name: 'x', access: 'read' as const },
    { name: 'out', access: 'read_write' as const },
  ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
${DIM_HELPER}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${WG}u;
  for (var i = gid.x; i < p.n; i += stride) {
    var rem = i;
    var src = p.base;
    for (var d = i32(p.rank) - 1; d >= 0; d--) {
      let size = dim_at(p.shape, u32(d));
      src += (rem % size) * dim_at(p.strides, u32(d));
      rem = rem / size;
    }
    out[i] = x[src];
  }
}`;
  return {
    key: 'stridedCopy',
    name: 'stridedCopy',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => gridStride(Number(u.n), WG * 4, 1024),
  };
}

export function blockCopyKernel(): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'n', type: 'u32' }, // outer * len * inner
    { name: 'len', type: 'u32' },
    { name: 'inner', type: 'u32' },
    { name: 'srcAxis', type: 'u32' },
    { name: 'srcStart', type: 'u32' },
    { name: 'dstAxis', type: 'u32' },
    { name: 'dstStart', type: 'u32' },
  ];
  const bindings = [
    { name: 'src', access: 'read' as const },
    { name: 'dst', access: 'read_write' as const },
  ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${WG}u;
  let block = p.len * p.inner;
  for (var i = gid.x; i < p.n; i += stride) {
    let o = i / block;
    let r = i - o * block;
    let j = r / p.inner;
    let k = r - j * p.inner;
    dst[(o * p.dstAxis + p.dstStart + j) * p.inner + k] = src[(o * p.srcAxis + p.srcStart + j) * p.inner + k];
  }
}`;
  return {
    key: 'blockCopy',
    name: 'blockCopy',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => gridStride(Number(u.n), WG * 4, 1024),
  };
}

/**
 * gatherRows: out[r, c] = x[index[r], c] for r < rows, c < cols, where index is a u32 array. Its
 * gradient is segmentSumRows below. Indices are checked on the CPU before the launch.
 */
export function gatherRowsKernel(): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'rows', type: 'u32' },
    { name: 'cols', type: 'u32' },
  ];
  const bindings = [
    { name: 'x', access: 'read' as const },
    { name: 'index', access: 'read' as const, type: 'array<u32>' },
    { name: 'out', access: 'read_write' as const },
  ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${WG}u;
  for (var i = gid.x; i < p.rows * p.cols; i += stride) {
    let r = i / p.cols;
    out[i] = x[index[r] * p.cols + (i - r * p.cols)];
  }
}`;
  return {
    key: 'gatherRows',
    name: 'gatherRows',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => gridStride(Number(u.rows) * Number(u.cols), WG * 4, 1024),
  };
}

/**
 * segmentSumRows (the gradient of gatherRows): out[s, c] = Σ_{t in [start[s], start[s+1])} g[order[t], c]
 * for s < rows, where (start, order) list, for each destination row s, the source rows to add — a
 * CSR layout built on the CPU from the gather's index. Rows nobody gathered get 0.
 */
export function segmentSumRowsKernel(): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'rows', type: 'u32' },
    { name: 'cols', type: 'u32' },
  ];
  const bindings = [
    { name: 'g', access: 'read' as const },
    { name: 'start', access: 'read' as const, type: 'array<u32>' },
    { name: 'order', access: 'read' as const, type: 'array<u32>' },
    { name: 'out', access: 'read_write' as const },
  ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${WG}u;
  for (var i = gid.x; i < p.rows * p.cols; i += stride) {
    let s = i / p.cols;
    let c = i - s * p.cols;
    var acc = 0.0;
    for (var t = start[s]; t < start[s + 1u]; t++) { acc += g[order[t] * p.cols + c]; }
    out[i] = acc;
  }
}`;
  return {
    key: 'segmentSumRows',
    name: 'segmentSumRows',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => gridStride(Number(u.rows) * Number(u.cols), WG * 4, 1024),
  };
}
