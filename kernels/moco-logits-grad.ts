// Gradient of MoCo's logits with respect to q (the keys and the queue get none):
//   dq[i, d] = (g[i, 0] · k[i, d] + Σ_j g[i, 1 + j] · queue[j, d]) / τ
// where g is the [N, 1 + K] gradient of the logits.
//
// queueGradPartial: the Σ_j over K is split into S chunks (split-K) so the work fills the device;
//   partial[s, i, d] = Σ_{j in chunk s} g[i, 1 + j] · queue[j, d]. Each invocation owns 4 rows i ×
//   8 columns d; invocations are numbered over (d tile, i tile, split) in a 1-D grid.
// queueGradReduce: dq[i, d] = (Σ_s partial[s, i, d] + g[i, 0] · k[i, d]) / τ, one invocation per
//   output element (this also adds the numerator's gradient).
import { rowDispatch } from './rows';
import { bindingDecls, gridStride, groupsFor, paramsStruct, type KernelSpec, type UniformField } from './spec';

const uniforms: UniformField[] = [
  { name: 'n', type: 'u32' },
  { name: 'k', type: 'u32' },
  { name: 'dim', type: 'u32' },
  { name: 'splits', type: 'u32' },
  { name: 'chunk', type: 'u32' }, // queue entries per split
  { name: 'invTau', type: 'f32' },
];

const TI = 4;
const TD = 8;
const WG = 64;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

export function queueGradPartialKernel(): KernelSpec {
  const bindings = [
    { name: 'g', access: 'read' as const },
    { name: 'queue', access: 'read' as const },
    { name: 'partial', access: 'read_write' as const },
  ];
  const rows = range(TI);
  const cols = range(TD);
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let dTiles = (p.dim + ${TD - 1}u) / ${TD}u;
  let iTiles = (p.n + ${TI - 1}u) / ${TI}u;
  let id = gid.x + gid.y * groups.x * ${WG}u;
  if (id >= dTiles * iTiles * p.splits) { return; }
  let s = id / (dTiles * iTiles);
  let rem = id - s * dTiles * iTiles;
  let i0 = (rem / dTiles) * ${TI}u;
  let d0 = (rem % dTiles) * ${TD}u;
  let jBegin = s * p.chunk;
  let jEnd = min(p.k, jBegin + p.chunk);
  let stride = p.k + 1u;
  ${rows.map((r) => cols.map((c) => `var a${r}_${c} = 0.0;`).join(' ')).join('\n  ')}
  ${rows.map((r) => `let ok_i${r} = i0 + ${r}u < p.n; let gi${r} = select(0u, (i0 + ${r}u) * stride + 1u, ok_i${r});`).join('\n  ')}
  ${cols.map((c) => `let ok_d${c} = d0 + ${c}u < p.dim; let dd${c} = select(0u, d0 + ${c}u, ok_d${c});`).join('\n  ')}
  for (var j = jBegin; j < jEnd; j++) {
    ${rows.map((r) => `let x${r} = select(0.0, g[gi${r} + j], ok_i${r});`).join('\n    ')}
    ${cols.map((c) => `let y${c} = select(0.0, queue[j * p.dim + dd${c}], ok_d${c});`).join('\n    ')}
    ${rows.map((r) => cols.map((c) => `a${r}_${c} = fma(x${r}, y${c}, a${r}_${c});`).join(' ')).join('\n    ')}
  }
  let base = s * p.n * p.dim;
  ${rows
    .map(
      (r) =>
        `if (ok_i${r}) {\n    ${cols
          .map((c) => `if (ok_d${c}) { partial[base + (i0 + ${r}u) * p.dim + d0 + ${c}u] = a${r}_${c}; }`)
          .join('\n    ')}\n  }`,
    )
    .join('\n  ')}
}`;
  return {
    key: 'moco.queueGradPartial',
    name: 'moco.queueGradPartial',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => {
      const tiles = groupsFor(Number(u.dim), TD) * groupsFor(Number(u.n), TI) * Number(u.splits);
      return rowDispatch(groupsFor(tiles, WG));
    },
  };
}

export function queueGradReduceKernel(): KernelSpec {
  const bindings = [
    { name: 'partial', access: 'read' as const },
    { name: 'g', access: 'read' as const },
    { name: 'keys', access: 'read' as const },
    { name: 'dq', access: 'read_write' as const },
  ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let total = p.n * p.dim;
  let stride = groups.x * ${WG}u;
  for (var e = gid.x; e < total; e += stride) {
    let i = e / p.dim;
    var acc = g[i * (p.k + 1u)] * keys[e];
    for (var s = 0u; s < p.splits; s++) { acc += partial[s * total + e]; }
    dq[e] = acc * p.invTau;
  }
}`;
  return {
    key: 'moco.queueGradReduce',
    name: 'moco.queueGradReduce',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => gridStride(Number(u.n) * Number(u.dim), WG, 256),
  };
}
