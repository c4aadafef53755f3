// Reductions (sum or max, times a scale) over the middle axis of a contiguous [outer, R, inner]
// view: out[o, k] = scale · reduce_{r < R} x[(o·R + r)·inner + k].
//
// Two shapes of work:
// - rows (inner == 1, R long): one workgroup per row. With subgroups it is one subgroup per row
//   (workgroup = subgroup size) finished by subgroupAdd/subgroupMax; without, a workgroup of 64 and a
//   tree in workgroup memory. Rows beyond 65535 fold into the y dimension of the grid.
// - columns (inner > 1, or short rows): one invocation per output, looping over R with 4 partial
//   accumulators; consecutive invocations read consecutive k, so loads are contiguous.
// An empty reduction (R = 0) gives 0 for sum and the lowest finite float for max.
import { rowDispatch } from './rows';
import { bindingDecls, gridStride, paramsStruct, type KernelSpec, type UniformField } from './spec';

export type ReduceOp = 'sum' | 'max';

const uniforms: UniformField[] = [
  { name: 'outer', type: 'u32' },
  { name: 'r', type: 'u32' },
  { name: 'inner', type: 'u32' },
  { name: 'scale', type: 'f32' },
];

const bindings = [
  { name: 'x', access: 'read' as const },
  { name: 'out', access: 'read_write' as const },
];

function identity(op: ReduceOp): string {
  return op === 'sum' ? '0.0' : '-0x1.fffffep+127f';
}

function combine(op: ReduceOp, a: string, b: string): string {
  return op === 'sum' ? `${a} + ${b}` : `max(${a}, ${b})`;
}

/** One workgroup (or subgroup) per row. `subgroupSize` 0 selects the workgroup-memory tree. */
export function reduceRowsKernel(op: ReduceOp, subgroupSize: number): KernelSpec {
  const wg = subgroupSize || 64;
  const finish =
    subgroupSize > 0
      ? /* wgsl */ `
  let total = ${op === 'sum' ? 'subgroupAdd(acc)' : 'subgroupMax(acc)'};
  if (lid.x == 0u) { out[row] = total * p.scale; }`
      : /* wgsl */ `
  partial[lid.x] = acc;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s >>= 1u) {
    if (lid.x < s) { partial[lid.x] = ${combine(op, 'partial[lid.x]', 'partial[lid.x + s]')}; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { out[row] = partial[0] * p.scale; }`;
  const code = /* wgsl */ `
${subgroupSize > 0 ? 'enable subgroups;' : ''}
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
${subgroupSize > 0 ? '' : `var<workgroup> partial: array<f32, ${wg}>;`}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let row = wid.y * groups.x + wid.x;
  if (row >= p.outer) { return; }
  let base = row * p.r;
  var acc = ${identity(op)};
  for (var i = lid.x; i < p.r; i += ${wg}u) {
    acc = ${combine(op, 'acc', 'x[base + i]')};
  }
${finish}
}`;
  return {
    key: `reduceRows:${op}:${subgroupSize}`,
    name: `reduce.${op}.rows`,
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    requires: subgroupSize > 0 ? ['subgroups'] : [],
    dispatch: (u) => rowDispatch(Number(u.outer)),
  };
}

/** One invocation per output element (o, k). */
export function reduceColumnsKernel(op: ReduceOp): KernelSpec {
  const wg = 64;
  const id = identity(op);
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}

@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let total = p.outer * p.inner;
  let stride = groups.x * ${wg}u;
  for (var idx = gid.x; idx < total; idx += stride) {
    let o = idx / p.inner;
    let k = idx - o * p.inner;
    let base = o * p.r * p.inner + k;
    var a0 = ${id}; var a1 = ${id}; var a2 = ${id}; var a3 = ${id};
    var r = 0u;
    for (; r + 4u <= p.r; r += 4u) {
      a0 = ${combine(op, 'a0', 'x[base + r * p.inner]')};
      a1 = ${combine(op, 'a1', 'x[base + (r + 1u) * p.inner]')};
      a2 = ${combine(op, 'a2', 'x[base + (r + 2u) * p.inner]')};
      a3 = ${combine(op, 'a3', 'x[base + (r + 3u) * p.inner]')};
    }
    for (; r < p.r; r++) { a0 = ${combine(op, 'a0', 'x[base + r * p.inner]')}; }
    let acc = ${combine(op, combine(op, 'a0', 'a1'), combine(op, 'a2', 'a3'))};
    out[idx] = acc * p.scale;
  }
}`;
  return {
    key: `reduceColumns:${op}`,
    name: `reduce.${op}.columns`,
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => gridStride(Number(u.outer) * Number(u.inner), wg, 1024),
  };
}
