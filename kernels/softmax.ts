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

/**
 * WGSL statements (inside main, after rowMain) for the online pass over the row of the vec4 array
 * `x`: defines `mx` (the row max) and `total` (Σ exp(x − mx)), the same in every lane.
 */
export const ONLINE_MAX_SUM = /* wgsl */ `
  var m = LOWEST;
  var s = 0.0;
  ${FOR_ROW_VEC4} {
    let inside = row_mask(v, base, end);
    let xv = select(vec4<f32>(LOWEST), x[v], inside);
    let nm = max(m, max(max(xv.x, xv.y), max(xv.z, xv.w)));
    let e = select(vec4<f32>(0.0), exp(xv - nm), inside);
    s = s * exp(m - nm) + ((e.x + e.y) + (e.z + e.w));
    m = nm;
  }
  let mx = lane_max(m, lid);
  let total = lane_sum(s * exp(m - mx), lid);`;

/** lse[row] = log Σ exp(x[row, :]). Bindings: x, lse. Uniforms: rows, cols. */
export function logSumExpKernel(c: RowConfig): KernelSpec {
  const bindings = [
    { name: 'x', access: 'read' as const, type: VEC4 },
    { name: 'lse', access: 'read_write' as const },
  ];
  const code = /* wgsl */ `${rowPrelude(c, ROW_UNIFORMS, bindings)}
${rowMain(c)}
${ONLINE_MAX_SUM}
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
