// L2 normalisation over the last axis (torch.nn.functional.normalize(x, dim=-1)) and its gradient:
// a row-norm reduction and a write pass forward (the norms are kept for the backward), a row dot
// product and a write pass backward (kernels/normalize.ts).
import {
  l2NormalizeBackwardKernel,
  l2NormalizeBackwardSumKernel,
  l2NormalizeForwardKernel,
  rowNormKernel,
} from '../../kernels/normalize';
import { isNarrow } from '../../kernels/row-map';
import { rowConfig } from '../../kernels/rows';
import { record } from '../autograd';
import { emptyTensor, type Tensor } from '../tensor';
import { rowShape } from './softmax';
import { checkInputs, fmt, memoKernel, rangeOf } from './util';

const normK = memoKernel(rowNormKernel);
const forwardK = memoKernel(l2NormalizeForwardKernel);
const backwardSumK = memoKernel(l2NormalizeBackwardSumKernel);
const backwardK = memoKernel(l2NormalizeBackwardKernel);

/** y = x / max(‖x‖₂, eps) for every row of the last axis. */
export function l2Normalize(x: Tensor, eps = 1e-12): Tensor {
  const ctx = checkInputs('l2Normalize', x);
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) {
    throw new Error(`l2Normalize: eps must be a positive finite number, got ${eps} (x of shape ${fmt(x.shape)})`);
  }
  const { rows, cols } = rowShape('l2Normalize', x);
  const y = emptyTensor(ctx, x.shape);
  const norm = emptyTensor(ctx, [rows]);
  const u = { rows, cols, eps };
  if (y.size > 0) {
    const config = rowConfig(ctx.subgroupSize);
    ctx.run(normK(config), [rangeOf(x), rangeOf(norm)], u);
    ctx.run(forwardK(config, isNarrow(cols)), [rangeOf(x), rangeOf(norm), rangeOf(y)], u);
  }
  const out = record(
    'l2Normalize',
    y,
    [x],
    (g, [sy, sn]) => {
      const dctx = checkInputs('l2Normalize backward', sy!, g);
      const dx = emptyTensor(dctx, sy!.shape);
      if (dx.size > 0) {
        const config = rowConfig(dctx.subgroupSize);
        const t = emptyTensor(dctx, [rows]);
        dctx.run(backwardSumK(config), [rangeOf(sy!), rangeOf(g), rangeOf(t)], u);
        dctx.run(backwardK(config, isNarrow(cols)), [rangeOf(sy!), rangeOf(g), rangeOf(sn!), rangeOf(t), rangeOf(dx)], u);
        t.dispose();
      }
      return [dx];
    },
    [y, norm],
  );
  norm.dispose();
  return out;
}
