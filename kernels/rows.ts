// Building blocks of the row kernels (softmax, log-softmax, cross-entropy, L2 normalize): each
// reduces every row of a contiguous [rows, cols] float32 matrix and then rewrites the row.
//
// Work split (shared/docs/lavapipe-performance.md §3): one workgroup per row. With subgroups the
// workgroup is exactly one subgroup, and lanes combine their partial results with subgroupMax /
// subgroupAdd, no barriers. Without subgroups (browsers) the workgroup has `lanes` invocations
// (a power of two) and combines through a tree in workgroup memory. Rows beyond 65535 fold into
// the grid's y dimension: row = wid.y · groups.x + wid.x; the few extra workgroups of the last
// line return at once.
//
// Memory: inputs are bound as array<vec4<f32>>. A reduction pass reads the aligned vec4s that
// overlap its row [base, base + cols) and masks the components outside it (the vec4s shared with
// the neighbouring rows). Buffers are padded to 16 bytes (lib/storage.ts), so the last vec4 is in
// bounds. Writing is done by a separate map kernel (kernels/row-map.ts) that writes whole vec4s;
// see there for why.
//
// Built here: rowSumKernel, out[row] = finish(Σ term) over the row for any vec4 term of the
// inputs. The family files build their other reductions (softmax's online max/sum) on rowPrelude
// and rowMain.
import { bindingDecls, groupsFor, MAX_WORKGROUPS_PER_DIM, paramsStruct, type Access, type KernelSpec, type UniformField, type Workgroups } from './spec';

export interface RowConfig {
  /** Invocations per row (the workgroup size). */
  lanes: number;
  /** Combine across lanes with subgroup operations (then lanes == the subgroup size). */
  subgroups: boolean;
}

/**
 * Workgroup size of the kernels without subgroups. On lavapipe (a CPU, like the SwiftShader these
 * kernels are for) 8 lanes beat 16, 32 and 64: softmax 256×8193 took 5.1 / 8.0 / 7.9 / 9.9 ms and
 * 70000×7 took 0.30 / 0.70 / 1.4 / 2.8 s (best of 5, on a machine shared with other jobs): each
 * barrier costs per workgroup, and there are log2(lanes) of them per reduction.
 */
export const FALLBACK_LANES = 8;

/** The row configuration for a device whose usable subgroup size is `subgroupSize` (null: none). */
export function rowConfig(subgroupSize: number | null): RowConfig {
  return subgroupSize ? { lanes: subgroupSize, subgroups: true } : { lanes: FALLBACK_LANES, subgroups: false };
}

/** Cache-key fragment of a configuration. */
export function configKey(c: RowConfig): string {
  return c.subgroups ? `sg${c.lanes}` : `wg${c.lanes}`;
}

/**
 * One workgroup per row; rows beyond 65535 fold into y (x is balanced so few workgroups idle).
 * The shader numbers workgroups wid.y · nwg.x + wid.x and returns past the last row.
 */
export function rowDispatch(rows: number): Workgroups {
  const y = groupsFor(rows, MAX_WORKGROUPS_PER_DIM);
  return [groupsFor(rows, y), y, 1];
}

/** The uniforms every row kernel starts with. */
export const ROW_UNIFORMS: UniformField[] = [
  { name: 'rows', type: 'u32' },
  { name: 'cols', type: 'u32' },
];

export interface Binding {
  name: string;
  access: Access;
  /** WGSL type; default array<f32>. */
  type?: string;
}

export const VEC4 = 'array<vec4<f32>>';

/** The lowest finite f32: the identity of max (an infinity cannot be written as a WGSL constant). */
export const LOWEST = '-0x1.fffffep+127f';

function laneReductions(c: RowConfig): string {
  if (c.subgroups) {
    return /* wgsl */ `
fn lane_sum(v: f32, lid: u32) -> f32 { return subgroupAdd(v); }
fn lane_max(v: f32, lid: u32) -> f32 { return subgroupMax(v); }`;
  }
  const tree = (name: string, combine: string) => /* wgsl */ `
fn ${name}(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = ${c.lanes / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = ${combine}; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier(); // everyone has read red[0] before the next reduction overwrites it
  return r;
}`;
  return /* wgsl */ `
var<workgroup> red: array<f32, ${c.lanes}>;
${tree('lane_sum', 'red[lid] + red[lid + s]')}
${tree('lane_max', 'max(red[lid], red[lid + s])')}`;
}

/**
 * Everything above `main`: the subgroups extension, Params, the bindings, LANES, the lane
 * reductions `lane_sum`/`lane_max` (unless `reductions` is false; call them in uniform control
 * flow), and `row_mask`.
 */
export function rowPrelude(c: RowConfig, uniforms: UniformField[], bindings: Binding[], reductions = true): string {
  if (!c.subgroups && (c.lanes & (c.lanes - 1)) !== 0) throw new Error(`row kernels: lanes ${c.lanes} is not a power of two`);
  return /* wgsl */ `${c.subgroups && reductions ? 'enable subgroups;' : ''}
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}

const LANES = ${c.lanes}u;
const LOWEST = ${LOWEST};
${reductions ? laneReductions(c) : ''}

// Which components of vec4 number v lie inside the row [base, end).
fn row_mask(v: u32, base: u32, end: u32) -> vec4<bool> {
  let i = vec4<u32>(v * 4u) + vec4<u32>(0u, 1u, 2u, 3u);
  return (i >= vec4<u32>(base)) & (i < vec4<u32>(end));
}`;
}

/** `main`'s signature and the row prologue: defines row, base, end; idle workgroups return. */
export function rowMain(c: RowConfig): string {
  return /* wgsl */ `
@compute @workgroup_size(${c.lanes})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * groups.x + wid.x;
  if (row >= p.rows) { return; }
  let base = row * p.cols;
  let end = base + p.cols;`;
}

/** Loop header over the vec4s overlapping the row, one per lane in turn; the body sees `v`. */
export const FOR_ROW_VEC4 = 'for (var v = base / 4u + lid; v * 4u < end; v += LANES)';

export interface RowSumOptions {
  /** Kernel name; the cache key adds the configuration. */
  name: string;
  /** Inputs, bound as vec4 arrays in this order, then `out` (one float per row). */
  inputs: string[];
  /** WGSL vec4 expression of the inputs read at [v] (masked to the row afterwards). */
  term: string;
  /** WGSL f32 expression of `total` (and uniforms p.*) written to out[row]. */
  finish: string;
  uniforms?: UniformField[];
}

/** out[row] = finish(Σ_row term): one pass over the row, then a lane sum. */
export function rowSumKernel(o: RowSumOptions, c: RowConfig): KernelSpec {
  const uniforms = [...ROW_UNIFORMS, ...(o.uniforms ?? [])];
  const bindings: Binding[] = [
    ...o.inputs.map((name) => ({ name, access: 'read' as const, type: VEC4 })),
    { name: 'out', access: 'read_write' },
  ];
  const code = /* wgsl */ `${rowPrelude(c, uniforms, bindings)}
${rowMain(c)}
  var acc = 0.0;
  ${FOR_ROW_VEC4} {
    let t = select(vec4<f32>(0.0), ${o.term}, row_mask(v, base, end));
    acc += (t.x + t.y) + (t.z + t.w);
  }
  let total = lane_sum(acc, lid);
  if (lid == 0u) { out[row] = ${o.finish}; }
}`;
  return {
    key: `${o.name}:${configKey(c)}`,
    name: o.name,
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    requires: c.subgroups ? ['subgroups'] : [],
    dispatch: (u) => rowDispatch(Number(u.rows)),
  };
}
