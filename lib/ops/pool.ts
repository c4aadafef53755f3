// Pooling ops on NCHW tensors, PyTorch semantics: maxPool2d (padding counts as −inf, the first
// maximum of a window wins, floor output size) and globalAvgPool2d (AdaptiveAvgPool2d(1)), with
// their gradients. maxPool2d saves the winning index of each output (u32 data in a tensor's
// storage, never read as floats) so the backward scatters gradients without recomputing the max
// (one invocation per plane, so overlapping windows that picked one input add up: see kernels/pool.ts).
import {
  globalAvgPoolBackwardKernel,
  globalAvgPoolKernel,
  maxPool2dBackwardKernel,
  maxPool2dKernel,
} from '../../kernels/pool';
import { record } from '../autograd';
import { isGradEnabled } from '../state';
import { emptyTensor, type Tensor } from '../tensor';
import { checkInputs, fmt, memoKernel, rangeOf } from './util';

const maxPoolK = memoKernel(maxPool2dKernel);
const maxPoolBackwardK = memoKernel(maxPool2dBackwardKernel);
const avgK = memoKernel(globalAvgPoolKernel);
const avgBackwardK = memoKernel(globalAvgPoolBackwardKernel);

export type Size2 = number | readonly [number, number];

export interface MaxPoolOptions {
  kernel: Size2;
  /** Default: the kernel size. */
  stride?: Size2;
  /** Zero by default; at most half the kernel size. */
  padding?: Size2;
}

function pair(op: string, name: string, v: Size2, min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? [v[0], v[1]] : [NaN, NaN];
  if (p.some((d) => !Number.isInteger(d) || d < min)) {
    throw new Error(`${op}: ${name} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

function checkNCHW(op: string, x: Tensor): [number, number, number, number] {
  if (x.rank !== 4) throw new Error(`${op}: x of shape ${fmt(x.shape)} must have rank 4 [N, C, H, W]`);
  if (x.size === 0) throw new Error(`${op}: x of shape ${fmt(x.shape)} is empty`);
  return x.shape as unknown as [number, number, number, number];
}

/** Max pooling over kernel windows; y has shape [N, C, Ho, Wo], Ho = floor((H + 2·ph − kh)/sh) + 1. */
export function maxPool2d(x: Tensor, options: MaxPoolOptions): Tensor {
  const op = 'maxPool2d';
  const ctx = checkInputs(op, x);
  const [n, c, h, w] = checkNCHW(op, x);
  if (!options || options.kernel === undefined) throw new Error(`${op}: options.kernel is required`);
  const [kh, kw] = pair(op, 'kernel', options.kernel, 1);
  const [sh, sw] = pair(op, 'stride', options.stride ?? options.kernel, 1);
  const [ph, pw] = pair(op, 'padding', options.padding ?? 0, 0);
  if (2 * ph > kh || 2 * pw > kw) {
    throw new Error(`${op}: padding [${ph}, ${pw}] must be at most half the kernel [${kh}, ${kw}]`);
  }
  const ho = Math.floor((h + 2 * ph - kh) / sh) + 1;
  const wo = Math.floor((w + 2 * pw - kw) / sw) + 1;
  if (ho < 1 || wo < 1) {
    throw new Error(`${op}: kernel [${kh}, ${kw}] with padding [${ph}, ${pw}] does not fit x of shape ${fmt(x.shape)}`);
  }
  const outShape = [n, c, ho, wo];
  const y = emptyTensor(ctx, outShape);
  const wantGrad = isGradEnabled() && x.requiresGrad;
  const indices = wantGrad ? emptyTensor(ctx, outShape) : null;
  const geometry = { h, w, ho, wo, kh, kw, sh, sw, ph, pw };
  // ResNet's 3×3 window compiled in (loops unrolled); any other size reads it from the uniforms
  const window: [number, number] | null = kh === 3 && kw === 3 ? [3, 3] : null;
  ctx.run(maxPoolK(wantGrad, window), [x, y, ...(indices ? [indices] : [])].map(rangeOf), { planes: n * c, ...geometry });
  if (!indices) return y;
  const result = record(
    op,
    y,
    [x],
    (g, [sIndices]) => {
      // Zero dx, then each plane's outputs add their gradients to their saved indices.
      const dx = emptyTensor(ctx, x.shape);
      ctx.clear(rangeOf(dx));
      ctx.run(maxPoolBackwardK(), [g, sIndices!, dx].map(rangeOf), { planes: n * c, outputs: ho * wo });
      return [dx];
    },
    [indices],
  );
  indices.dispose();
  return result;
}

/** Mean over H and W: [N, C, H, W] → [N, C, 1, 1] (AdaptiveAvgPool2d(1)). */
export function globalAvgPool2d(x: Tensor): Tensor {
  const op = 'globalAvgPool2d';
  const ctx = checkInputs(op, x);
  const [n, c, h, w] = checkNCHW(op, x);
  const vec4 = (h * w) % 4 === 0;
  const uniforms = { rows: n * c, hw: vec4 ? (h * w) / 4 : h * w, scale: 1 / (h * w) };
  const y = emptyTensor(ctx, [n, c, 1, 1]);
  ctx.run(avgK(vec4), [x, y].map(rangeOf), uniforms);
  return record(op, y, [x], (g) => {
    const dx = emptyTensor(ctx, x.shape);
    ctx.run(avgBackwardK(vec4), [g, dx].map(rangeOf), uniforms);
    return [dx];
  });
}
