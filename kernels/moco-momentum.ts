// MoCo's momentum update of the key encoder over its whole flat parameter buffer in one dispatch:
//   θ_k ← m·θ_k + (1 − m)·θ_q
// (parameters only: BatchNorm running statistics are not averaged, as in the official code).
// Both buffers share one layout (the same architecture packed the same way); padding between
// parameters is zero in both and stays zero. vec4 grid-stride loop over a few workgroups of 64.
import { bindingDecls, groupsFor, paramsStruct, type KernelSpec, type UniformField } from './spec';

export function momentumUpdateKernel(): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'n4', type: 'u32' },
    { name: 'm', type: 'f32' },
  ];
  const bindings = [
    { name: 'key', access: 'read_write' as const, type: 'array<vec4<f32>>' },
    { name: 'query', access: 'read' as const, type: 'array<vec4<f32>>' },
  ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * 64u;
  for (var i = gid.x; i < p.n4; i += stride) {
    key[i] = mix(query[i], key[i], vec4<f32>(p.m));
  }
}`;
  return {
    key: 'moco.momentumUpdate',
    name: 'moco.momentumUpdate',
    code,
    bindings: ['read_write', 'read'],
    uniforms,
    dispatch: (u) => [Math.min(64, groupsFor(Number(u.n4), 64 * 4)), 1, 1],
  };
}
