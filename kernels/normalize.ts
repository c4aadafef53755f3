// Row L2 normalisation (torch.nn.functional.normalize over the last axis) and its backward, each a
// reduction kernel (one value per row) followed by a write pass (kernels/row-map.ts).
//
// Forward, per row of x [rows, cols]: norm[row] = sqrt(Σ x²) (kept for the backward), then
// y = x / max(norm, eps). A zero row gives zeros.
// Backward (y the forward output, g its gradient): t[row] = Σ g·y, then
//   norm > eps:  dx = (g − y · t) / norm
//   norm ≤ eps:  dx = g / eps          (there y = x / eps is linear in x)
// The sum of squares is not rescaled, so rows with ‖x‖ above ~1.8e19 overflow to inf.
// Layout, lanes and edges: kernels/rows.ts (one workgroup or subgroup per row, masked vec4 reads,
// rows beyond 65535 fold into the grid's y) and kernels/row-map.ts (whole-vec4 writes).
import { rowMapKernel } from './row-map';
import { rowSumKernel, type RowConfig } from './rows';
import type { KernelSpec, UniformField } from './spec';

const EPS: UniformField[] = [{ name: 'eps', type: 'f32' }];

/** norm[row] = ‖x[row, :]‖₂. Bindings: x, norm. Uniforms: rows, cols. */
export function rowNormKernel(c: RowConfig): KernelSpec {
  return rowSumKernel({ name: 'l2Normalize.norm', inputs: ['x'], term: 'x[v] * x[v]', finish: 'sqrt(total)' }, c);
}

/** y = x / max(norm, eps). Bindings: x, norm, y. Uniforms: rows, cols, eps. */
export function l2NormalizeForwardKernel(c: RowConfig, narrow: boolean): KernelSpec {
  return rowMapKernel(
    {
      name: 'l2Normalize.forward',
      inputs: ['x'],
      rowInputs: ['norm'],
      uniforms: EPS,
      rowParam: 'return vec4<f32>(1.0 / max(norm[r], p.eps), 0.0, 0.0, 0.0);',
      expr: 'x[v] * a',
    },
    c,
    narrow,
  );
}

/** t[row] = Σ g·y. Bindings: y, g, t. Uniforms: rows, cols. */
export function l2NormalizeBackwardSumKernel(c: RowConfig): KernelSpec {
  return rowSumKernel({ name: 'l2Normalize.backwardSum', inputs: ['y', 'g'], term: 'y[v] * g[v]', finish: 'total' }, c);
}

/** dx from y, g, the forward norm and t. Bindings: y, g, norm, t, dx. Uniforms: rows, cols, eps. */
export function l2NormalizeBackwardKernel(c: RowConfig, narrow: boolean): KernelSpec {
  return rowMapKernel(
    {
      name: 'l2Normalize.backward',
      inputs: ['y', 'g'],
      rowInputs: ['norm', 't'],
      uniforms: EPS,
      // a: 1 / max(norm, eps); b: the projection coefficient (0 at or below eps).
      rowParam: `let n = norm[r];
  return vec4<f32>(1.0 / max(n, p.eps), select(0.0, t[r], n > p.eps), 0.0, 0.0);`,
      expr: '(g[v] - y[v] * b) * a',
    },
    c,
    narrow,
  );
}
