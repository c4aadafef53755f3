// A kernel is described as data: its WGSL, its storage bindings, its uniform fields and how many
// workgroups a launch needs. Nothing here touches the GPU or knows about tensors; lib/ compiles a
// spec once per `key` (the kernel name plus its compile-time configuration, never a tensor size)
// and packs the uniform values a launch passes.
//
// Binding layout of every kernel: storage buffers at @binding(0..n-1) in the order of `bindings`,
// then, when the kernel has uniform fields, one uniform buffer at @binding(n) holding struct
// `Params` (declared by `paramsStruct`). All buffers are in @group(0).

export type Access = 'read' | 'read_write';

/** A uniform field: a 4-byte scalar, a vec4, or a fixed-length array of vec4 (16-byte stride). */
export type UniformType = 'u32' | 'i32' | 'f32' | 'vec4<u32>' | 'vec4<i32>' | 'vec4<f32>';

export interface UniformField {
  name: string;
  type: UniformType;
  /** When set, the field is `array<type, length>`; type must then be a vec4. */
  length?: number;
}

export type UniformValues = Record<string, number | ArrayLike<number>>;

export type Workgroups = [number, number, number];

export type Feature = 'subgroups' | 'shader-f16';

export interface KernelSpec {
  /** Pipeline cache key: name + compile-time config. Must not contain tensor sizes. */
  key: string;
  /** Human name used in error messages and GPU object labels. */
  name: string;
  /** The whole shader, entry point `main`. */
  code: string;
  bindings: Access[];
  uniforms: UniformField[];
  /** Device features the shader needs (the runtime checks them before compiling). */
  requires?: Feature[];
  /** Number of workgroups for a launch with these uniform values. */
  dispatch(u: UniformValues): Workgroups;
}

/** WGSL declaration of the binding block for `bindings` + `Params` (see the layout note above). */
export function bindingDecls(bindings: { name: string; access: Access; type?: string }[], hasParams: boolean): string {
  const lines = bindings.map((b, i) => {
    const mode = b.access === 'read' ? 'read' : 'read_write';
    return `@group(0) @binding(${i}) var<storage, ${mode}> ${b.name}: ${b.type ?? 'array<f32>'};`;
  });
  if (hasParams) lines.push(`@group(0) @binding(${bindings.length}) var<uniform> p: Params;`);
  return lines.join('\n');
}

/** WGSL `struct Params { ... }` for the uniform fields, in the order given. */
export function paramsStruct(fields: UniformField[]): string {
  const body = fields
    .map((f) => (f.length ? `  ${f.name}: array<${f.type}, ${f.length}>,` : `  ${f.name}: ${f.type},`))
    .join('\n');
  return `struct Params {\n${body}\n}`;
}

/** Shorthand for a list of u32 uniform fields. */
export function u32Fields(...names: string[]): UniformField[] {
  return names.map((name) => ({ name, type: 'u32' as const }));
}

/** Workgroup count for `n` items at `perGroup` items each, at least 1. */
export function groupsFor(n: number, perGroup: number): number {
  return Math.max(1, Math.ceil(n / perGroup));
}

/** Largest number of workgroups allowed in one dimension (WebGPU's default limit). */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/** A 1-D grid-stride launch: enough workgroups of `perGroup` items for `count`, at most `maxGroups`. */
export function gridStride(count: number, perGroup: number, maxGroups: number): Workgroups {
  return [Math.min(maxGroups, groupsFor(count, perGroup)), 1, 1];
}

/** The workgroup size and the most workgroups of `gridStrideKernel` launches. */
const GRID_WG = 64;
const GRID_MAX_GROUPS = 512;

/**
 * A kernel whose invocations walk idx < p.total (a u32 uniform it must declare) in a grid-stride
 * loop over at most 512 workgroups of 64 (few workgroups doing much work are fastest on
 * lavapipe: shared/docs/lavapipe-performance.md §3). `body` are the loop's WGSL lines, `helpers`
 * WGSL placed before main.
 */
export function gridStrideKernel(k: {
  key: string;
  name: string;
  uniforms: UniformField[];
  bindings: { name: string; access: Access; type?: string }[];
  body: string[];
  helpers?: string;
}): KernelSpec {
  const code = /* wgsl */ `
${paramsStruct(k.uniforms)}
${bindingDecls(k.bindings, true)}
${k.helpers ?? ''}
@compute @workgroup_size(${GRID_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${GRID_WG}u;
  for (var idx = gid.x; idx < p.total; idx += stride) {
${k.body.map((l) => `    ${l}`).join('\n')}
  }
}`;
  return {
    key: k.key,
    name: k.name,
    code,
    bindings: k.bindings.map((b) => b.access),
    uniforms: k.uniforms,
    dispatch: (u) => gridStride(Number(u.total), GRID_WG, GRID_MAX_GROUPS),
  };
}
