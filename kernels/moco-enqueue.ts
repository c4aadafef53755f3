// MoCo's enqueue: the N new keys overwrite rows [ptr, ptr + N) of the K × dim ring buffer
//   queue[(ptr + i) mod K, d] = keys[i, d]
// (the op checks K % N == 0 and advances ptr by N on the CPU, so in practice no row wraps). The
// keys were L2-normalised by the key encoder. Grid-stride loop over the N·dim elements.
import { bindingDecls, gridStride, paramsStruct, type KernelSpec, type UniformField } from './spec';

export function enqueueKernel(): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'n', type: 'u32' },
    { name: 'k', type: 'u32' },
    { name: 'dim', type: 'u32' },
    { name: 'ptr', type: 'u32' },
  ];
  const bindings = [
    { name: 'keys', access: 'read' as const },
    { name: 'queue', access: 'read_write' as const },
  ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let total = p.n * p.dim;
  let stride = groups.x * 64u;
  for (var e = gid.x; e < total; e += stride) {
    let i = e / p.dim;
    let d = e - i * p.dim;
    queue[((p.ptr + i) % p.k) * p.dim + d] = keys[e];
  }
}`;
  return {
    key: 'moco.enqueue',
    name: 'moco.enqueue',
    code,
    bindings: ['read', 'read_write'],
    uniforms,
    dispatch: (u) => gridStride(Number(u.n) * Number(u.dim), 64, 64),
  };
}
