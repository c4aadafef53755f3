// MoCo's logits, written straight into one [N, 1 + K] row-major buffer so the loss reads them with
// no concatenation: column 0 is the InfoNCE numerator, columns 1..K the queue negatives.
//
// positiveLogits: logits[i, 0] = (q_i · k_i) / τ. One invocation per row i.
// queueLogits:    logits[i, 1 + j] = (q_i · queue_j) / τ, where queue is K × dim row-major (one key per
//   row, so the enqueue is a contiguous write). Each invocation owns a register tile of 4 rows i ×
//   8 queue entries j and walks dim one element at a time (any dim, e.g. 128 or 25): 12 loads feed 32
//   FMAs. Rows past N and entries past K load zeros (select) and are not stored. The grid is
//   (ceil(K / 512), ceil(N / 4)).
import { bindingDecls, groupsFor, paramsStruct, type KernelSpec, type UniformField } from './spec';

export const LOGITS_UNIFORMS: UniformField[] = [
  { name: 'n', type: 'u32' },
  { name: 'k', type: 'u32' }, // queue length K
  { name: 'dim', type: 'u32' },
  { name: 'invTau', type: 'f32' },
];

export function positiveLogitsKernel(): KernelSpec {
  const bindings = [
    { name: 'q', access: 'read' as const },
    { name: 'keys', access: 'read' as const },
    { name: 'logits', access: 'read_write' as const },
  ];
  const code = /* wgsl */ `
${paramsStruct(LOGITS_UNIFORMS)}
${bindingDecls(bindings, true)}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= p.n) { return; }
  var acc = 0.0;
  for (var d = 0u; d < p.dim; d++) { acc = fma(q[i * p.dim + d], keys[i * p.dim + d], acc); }
  logits[i * (p.k + 1u)] = acc * p.invTau;
}`;
  return {
    key: 'moco.positiveLogits',
    name: 'moco.positiveLogits',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms: LOGITS_UNIFORMS,
    dispatch: (u) => [groupsFor(Number(u.n), 64), 1, 1],
  };
}

const TI = 4;
const TJ = 8;
const WG = 64;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

export function queueLogitsKernel(): KernelSpec {
  const bindings = [
    { name: 'q', access: 'read' as const },
    { name: 'queue', access: 'read' as const },
    { name: 'logits', access: 'read_write' as const },
  ];
  const rows = range(TI);
  const cols = range(TJ);
  const code = /* wgsl */ `
${paramsStruct(LOGITS_UNIFORMS)}
${bindingDecls(bindings, true)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let j0 = gid.x * ${TJ}u;
  let i0 = wid.y * ${TI}u;
  if (j0 >= p.k) { return; }
  ${rows.map((r) => cols.map((c) => `var a${r}_${c} = 0.0;`).join(' ')).join('\n  ')}
  ${rows.map((r) => `let ok_i${r} = i0 + ${r}u < p.n; let qi${r} = select(0u, (i0 + ${r}u) * p.dim, ok_i${r});`).join('\n  ')}
  ${cols.map((c) => `let ok_j${c} = j0 + ${c}u < p.k; let kj${c} = select(0u, (j0 + ${c}u) * p.dim, ok_j${c});`).join('\n  ')}
  for (var d = 0u; d < p.dim; d++) {
    ${rows.map((r) => `let x${r} = select(0.0, q[qi${r} + d], ok_i${r});`).join('\n    ')}
    ${cols.map((c) => `let y${c} = select(0.0, queue[kj${c} + d], ok_j${c});`).join('\n    ')}
    ${rows.map((r) => cols.map((c) => `a${r}_${c} = fma(x${r}, y${c}, a${r}_${c});`).join(' ')).join('\n    ')}
  }
  let stride = p.k + 1u;
  ${rows
    .map(
      (r) =>
        `if (ok_i${r}) {\n    ${cols
          .map((c) => `if (ok_j${c}) { logits[(i0 + ${r}u) * stride + 1u + j0 + ${c}u] = a${r}_${c} * p.invTau; }`)
          .join('\n    ')}\n  }`,
    )
    .join('\n  ')}
}`;
  return {
    key: 'moco.queueLogits',
    name: 'moco.queueLogits',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms: LOGITS_UNIFORMS,
    dispatch: (u) => [groupsFor(Number(u.k), TJ * WG), groupsFor(Number(u.n), TI), 1],
  };
}
