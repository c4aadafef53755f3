// Row softmax and log-softmax over the last axis of a contiguous [rows, cols] matrix, and their
// backward kernels. Each is a reduction kernel (one value per row) followed by a write pass
// (kernels/row-map.ts).
//
// Forward: logSumExpKernel makes one pass per row in which each lane keeps its running max m and
// the sum s of exp(x − m) (on a new max, s is rescaled by exp(m_old − m_new)); the lanes combine,
// M = max m, S = Σ s·exp(m − M), and lse[row] = M + log S. The write pass gives
// y = exp(x − lse) (softmax) or y = x − lse (log-softmax). Nothing overflows: every exponent is
// ≤ 0, so logits of ±100 (or ±1e30) are fine. A row of −inf gives NaN, as in PyTorch.
// Backward (y the forward output, g its gradient), per row:
//   softmax      t = Σ g·y,  dx = y · (g − t)
//   log-softmax  t = Σ g,    dx = g − exp(y) · t
// Layout, lanes and edges: kernels/rows.ts (one workgroup or subgroup per row, masked vec4 reads,
// rows beyond 65535 fold into the grid's y) and kernels/row-map.ts (whole-vec4 writes).
import { rowMapKernel } from './row-map';
import { configKey, FOR_ROW_VEC4, ROW_UNIFORMS, rowDispatch, rowMain, rowPrelude, rowSumKernel, VEC4, type RowConfig } from './rows';
import type { KernelSpec } from './spec';

export type SoftmaxKind = 'softmax' | 'logSoftmax';

/** One update of a lane's running max m and sum s by the vec4 `xv` (components outside `mask` skipped). */
function onlineStep(xv: string, mask: string | null): string {
  const masked = mask ? `select(vec4<f32>(LOWEST), ${xv}, ${mask})` : xv;
  return `{
      let xv = ${masked};
      let nm = max(m, max(max(xv.x, xv.y), max(xv.z, xv.w)));
      let e = ${mask ? `select(vec4<f32>(0.0), exp(xv - nm), ${mask})` : 'exp(xv - nm)'};
      s = s * exp(m - nm) + ((e.x + e.y) + (e.z + e.w));
      m = nm;
    }`;
}

/**
 * WGSL statements (inside main, after rowMain) for the online pass over the row of the vec4 array
 * `x`: defines `mx` (the row max) and `total` (Σ exp(x − mx)), the same in every lane.
 * `pairs` (softmax, log-softmax): in rows of 8 or more, the vec4s wholly inside the row are read two
 * per step, unmasked (one rescale exp per 8 values instead of per 4: softmax 64×65537's reduction
 * 2.25 → 1.87 ms), and the at most two vec4s the row shares with its neighbours are added masked, by
 * lanes 0 and LANES − 1. Without (cross-entropy, and rows under 8): every vec4 masked, one per step.
 * Cross-entropy keeps the one-per-step order on purpose: it is a negligible share of a MoCo step,
 * and its rounding steers the trainer's runs (README, "Training"), whose measured results are
 * kept comparable across versions.
 */
export function onlineMaxSum(pairs: boolean): string {
  const masked = `${FOR_ROW_VEC4} ${onlineStep('x[v]', 'row_mask(v, base, end)')}`;
  const loop = pairs
    ? /* wgsl */ `if (p.cols < 8u) {
    ${masked}
  } else {
    let first = (base + 3u) / 4u; // the vec4s [first, last) lie wholly inside the row
    let last = end / 4u;
    var v = first + 2u * lid;
    for (; v + 1u < last; v += 2u * LANES) {
      let xa = x[v];
      let xb = x[v + 1u];
      let nm = max(m, max(max(max(xa.x, xa.y), max(xa.z, xa.w)), max(max(xb.x, xb.y), max(xb.z, xb.w))));
      let e = exp(xa - nm) + exp(xb - nm);
      s = s * exp(m - nm) + ((e.x + e.y) + (e.z + e.w));
      m = nm;
    }
    if (v < last) ${onlineStep('x[v]', null)}
    if (lid == 0u && base % 4u != 0u) ${onlineStep('x[base / 4u]', 'row_mask(base / 4u, base, end)')}
    if (lid == LANES - 1u && end % 4u != 0u) ${onlineStep('x[last]', 'row_mask(last, base, end)')}
  }`
    : masked;
  return /* wgsl */ `
  var m = LOWEST;
  var s = 0.0;
  ${loop}
  let mx = lane_max(m, lid);
  let total = lane_sum(s * exp(m - mx), lid);`;
}

/** lse[row] = log Σ exp(x[row, :]). Bindings: x, lse. Uniforms: rows, cols. */
export function logSumExpKernel(c: RowConfig): KernelSpec {
  const bindings = [
    { name: 'x', access: 'read' as const, type: VEC4 },
    { name: 'lse', access: 'read_write' as const },
  ];
  const code = /* wgsl */ `${rowPrelude(c, ROW_UNIFORMS, bindings)}
${rowMain(c)}
${onlineMaxSum(true)}
  if (lid == 0u) { lse[row] = mx + log(total); }
}`;
  return {
    key: `logSumExp:${configKey(c)}`,
    name: 'softmax.logSumExp',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms: ROW_UNIFORMS,
    requires: c.subgroups ? ['subgroups'] : [],
    dispatch: (u) => rowDispatch(Number(u.rows)),
  };
}

/** The forward write pass. Bindings: x, lse, out. Uniforms: rows, cols. */
export function softmaxForwardKernel(kind: SoftmaxKind, c: RowConfig, narrow: boolean): KernelSpec {
  return rowMapKernel(
    {
      name: `${kind}.forward`,
      inputs: ['x'],
      rowInputs: ['lse'],
      rowParam: 'return vec4<f32>(lse[r], 0.0, 0.0, 0.0);',
      expr: kind === 'softmax' ? 'exp(x[v] - a)' : 'x[v] - a',
    },
    c,
    narrow,
  );
}

/** The backward reduction t[row]. Bindings: y, g, t (softmax) or g, t (log-softmax). Uniforms: rows, cols. */
export function softmaxBackwardSumKernel(kind: SoftmaxKind, c: RowConfig): KernelSpec {
  return rowSumKernel(
    kind === 'softmax'
      ? { name: 'softmax.backwardSum', inputs: ['y', 'g'], term: 'y[v] * g[v]', finish: 'total' }
      : { name: 'logSoftmax.backwardSum', inputs: ['g'], term: 'g[v]', finish: 'total' },
    c,
  );
}

/** The backward write pass. Bindings: y, g, t, dx. Uniforms: rows, cols. */
export function softmaxBackwardKernel(kind: SoftmaxKind, c: RowConfig, narrow: boolean): KernelSpec {
  return rowMapKernel(
    {
      name: `${kind}.backward`,
      inputs: ['y', 'g'],
      rowInputs: ['t'],
      rowParam: 'return vec4<f32>(t[r], 0.0, 0.0, 0.0);',
      expr: kind === 'softmax' ? 'y[v] * (g[v] - a)' : 'g[v] - exp(y[v]) * a',
    },
    c,
    narrow,
  );
}
