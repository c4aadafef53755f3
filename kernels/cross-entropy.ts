// Fused log-softmax + negative log-likelihood over the rows of logits x [rows, cols], with integer
// class labels stored as floats (labels[row] ∈ {0, 1, …, cols − 1}).
//
// Forward, per row: the online max/sum pass of kernels/softmax.ts gives lse = M + log Σ exp(x − M);
// the kernel writes loss[row] = lse − x[row, label] and keeps lse[row] for the backward. (The mean
// over rows is a separate sum reduction.) No pass writes the [rows, cols] log-probabilities.
// Backward, a write pass (kernels/row-map.ts): dx[row, j] = (exp(x[row, j] − lse[row]) −
// [j == label]) · g · scale, where g is the gradient of the loss (a one-element buffer) and
// scale = 1/rows for the mean.
//
// A label the GPU cannot use (negative, ≥ cols, fractional or NaN: the CPU validates arrays, but a
// label tensor is only seen here) cannot throw. Its row's loss is NaN, and so is its gradient row,
// so the mean loss turns NaN and the bad batch is visible, never silently trained on. The label
// is never used as an index unless it is valid (the kernel reads x[row, 0] instead), so nothing is
// read out of bounds.
// Layout, lanes and edges: kernels/rows.ts.
import { rowMapKernel } from './row-map';
import { configKey, ROW_UNIFORMS, rowDispatch, rowMain, rowPrelude, VEC4, type RowConfig } from './rows';
import { onlineMaxSum } from './softmax';
import type { KernelSpec, UniformField } from './spec';

/** WGSL statements for row `r`: `ok` (its label is a valid class) and `col` (the label, or 0). */
const LABEL = (r: string) => /* wgsl */ `
  let lf = labels[${r}];
  let ok = lf >= 0.0 && lf < f32(p.cols) && floor(lf) == lf;
  let col = select(0u, u32(lf), ok);
  var nan_bits = 0x7fc00000u; // a var, so the NaN is made at run time
  let nan = bitcast<f32>(nan_bits);`;

/** Bindings: x (logits), labels, loss [rows], lse [rows]. Uniforms: rows, cols. */
export function crossEntropyForwardKernel(c: RowConfig): KernelSpec {
  const bindings = [
    { name: 'x', access: 'read' as const, type: VEC4 },
    { name: 'labels', access: 'read' as const },
    { name: 'loss', access: 'read_write' as const },
    { name: 'lse', access: 'read_write' as const },
  ];
  const code = /* wgsl */ `${rowPrelude(c, ROW_UNIFORMS, bindings)}
${rowMain(c)}
${onlineMaxSum(false)}
  if (lid == 0u) {
${LABEL('row')}
    let hot = base + col;
    let l = mx + log(total);
    loss[row] = select(nan, l - x[hot / 4u][hot % 4u], ok);
    lse[row] = l;
  }
}`;
  return {
    key: `crossEntropy.forward:${configKey(c)}`,
    name: 'crossEntropy.forward',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms: ROW_UNIFORMS,
    requires: c.subgroups ? ['subgroups'] : [],
    dispatch: (u) => rowDispatch(Number(u.rows)),
  };
}

const BACKWARD_UNIFORMS: UniformField[] = [{ name: 'scale', type: 'f32' }];

/** Bindings: x (logits), labels, lse, g (one element), dx. Uniforms: rows, cols, scale. */
export function crossEntropyBackwardKernel(c: RowConfig, narrow: boolean): KernelSpec {
  return rowMapKernel(
    {
      name: 'crossEntropy.backward',
      inputs: ['x'],
      rowInputs: ['labels', 'lse', 'g'],
      uniforms: BACKWARD_UNIFORMS,
      // a: lse; b: the label's offset from `base` (exact in f32: below 2·cols + 4); c: 0 or NaN; d: g/N.
      rowParam: /* wgsl */ `${LABEL('r')}
  let hot = f32(r * p.cols + col - base);
  return vec4<f32>(lse[r], hot, select(nan, 0.0, ok), g[0] * p.scale);`,
      expr: '(exp(x[v] - a) - select(vec4<f32>(0.0), vec4<f32>(1.0), vec4<f32>(i - vec4<u32>(base)) == b)) * d + c',
    },
    c,
    narrow,
  );
}
