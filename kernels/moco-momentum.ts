// MoCo's momentum update of the key encoder over its whole flat parameter buffer in one dispatch:
//   θ_k ← m·θ_k + (1 − m)·θ_q
// (parameters only: BatchNorm running statistics are not averaged, as in the official code).
// Both buffers share one layout (the same architecture packed the same way); padding between
// parameters is zero in both and stays zero.
// Memory-bound: each invocation handles 4 consecutive vec4s per iteration of a grid-stride loop over
// 16 workgroups of 64 (measured on lavapipe: ~1.5× faster than one vec4 per iteration over 64
// workgroups), with the uniforms read once into locals; a last partial group of vec4s is done one
// vec4 at a time.
import { bindingDecls, paramsStruct, type KernelSpec, type UniformField } from './spec';

const WG = 64;
const GROUPS = 16;

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
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n4 = p.n4;
  let m = p.m;
  let q = 1.0 - p.m;
  let stride = groups.x * ${WG * 4}u;
  let whole = n4 - n4 % 4u;
  for (var i = gid.x * 4u; i < whole; i += stride) {
    let k0 = key[i]; let k1 = key[i + 1u]; let k2 = key[i + 2u]; let k3 = key[i + 3u];
    let q0 = query[i]; let q1 = query[i + 1u]; let q2 = query[i + 2u]; let q3 = query[i + 3u];
    key[i] = k0 * m + q0 * q;
    key[i + 1u] = k1 * m + q1 * q;
    key[i + 2u] = k2 * m + q2 * q;
    key[i + 3u] = k3 * m + q3 * q;
  }
  let tail = whole + gid.x;
  if (tail < n4) { key[tail] = key[tail] * m + query[tail] * q; }
}`;
  return {
    key: 'moco.momentumUpdate',
    name: 'moco.momentumUpdate',
    code,
    bindings: ['read_write', 'read'],
    uniforms,
    dispatch: () => [GROUPS, 1, 1],
  };
}
