// batchNorm2d (NCHW) with PyTorch semantics, ghost-batch groups (MoCo's Shuffle-BN on one device)
// and a fused epilogue y = relu?(bn(x) + residual?). Training: two dispatches (per-channel
// statistics that also update the running stats in place; then the elementwise apply). Eval: a
// tiny per-channel coefficient pass, then the same apply. Backward: two dispatches (per-channel
// sums giving dweight, dbias and the dx coefficients; then dx, plus the residual's gradient through
// the ReLU mask). See kernels/batchnorm-common.ts for the math.
import { applyLayout, bnApplyKernel, bnEvalCoefKernel, bnStatsKernel } from '../../kernels/batchnorm';
import { bnBackwardApplyKernel, bnBackwardReduceKernel } from '../../kernels/batchnorm-backward';
import { record } from '../autograd';
import { emptyTensor, type Tensor } from '../tensor';
import { mapBinary } from './elementwise';
import { checkInputs, fmt, memoKernel, rangeOf, rangesOverlap } from './util';

const statsK = memoKernel(bnStatsKernel);
const evalCoefK = memoKernel(bnEvalCoefKernel);
const applyK = memoKernel(bnApplyKernel);
const backwardReduceK = memoKernel(bnBackwardReduceKernel);
const backwardApplyK = memoKernel(bnBackwardApplyKernel);

export interface BatchNormParams {
  weight: Tensor;
  bias: Tensor;
  /** Updated in place in training mode. */
  runningMean: Tensor;
  /** Updated in place in training mode (with the unbiased variance). */
  runningVar: Tensor;
}

export interface BatchNormOptions {
  training: boolean;
  /** Weight of the new statistic in the running stats (default 0.1, as PyTorch). */
  momentum?: number;
  eps?: number;
  /** Ghost batches: G consecutive sub-batches of N/G samples, each with its own statistics (training only). */
  groups?: number;
  /** Apply ReLU after the (optional) residual addition. */
  relu?: boolean;
  /** Added before the ReLU; same shape as x. */
  residual?: Tensor | null;
}

const OP = 'batchNorm2d';

interface Plan {
  n: number;
  c: number;
  /** Block length in kernel units (vec4s when `vec4`). */
  hw: number;
  vec4: boolean;
  groups: number;
  ng: number;
  count: number;
  /** options.momentum and options.eps with their defaults applied. */
  momentum: number;
  eps: number;
}

function validate(x: Tensor, params: BatchNormParams, options: BatchNormOptions): Plan {
  if (!params || typeof params !== 'object') throw new Error(`${OP}: params { weight, bias, runningMean, runningVar } are required`);
  if (!options || typeof options.training !== 'boolean') {
    throw new Error(`${OP}: options.training must be true or false, got ${String(options?.training)}`);
  }
  const { weight, bias, runningMean, runningVar } = params;
  const residual = options.residual ?? null;
  checkInputs(OP, x, weight, bias, runningMean, runningVar, ...(residual ? [residual] : []));
  if (x.rank !== 4) throw new Error(`${OP}: x of shape ${fmt(x.shape)} must have rank 4 [N, C, H, W]`);
  const [n, c, h, w] = x.shape as [number, number, number, number];
  if (x.size === 0) throw new Error(`${OP}: x of shape ${fmt(x.shape)} is empty`);
  for (const [name, t] of Object.entries({ weight, bias, runningMean, runningVar })) {
    if (t.rank !== 1 || t.shape[0] !== c) {
      throw new Error(`${OP}: ${name} of shape ${fmt(t.shape)} must be [C] = [${c}] for x of shape ${fmt(x.shape)}`);
    }
  }
  if (residual && residual.shape.join() !== x.shape.join()) {
    throw new Error(`${OP}: residual of shape ${fmt(residual.shape)} must match x of shape ${fmt(x.shape)}`);
  }
  const groups = options.groups ?? 1;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`${OP}: groups must be a positive integer, got ${groups}`);
  if (n % groups !== 0) {
    throw new Error(`${OP}: batch size N = ${n} of x ${fmt(x.shape)} is not divisible by groups = ${groups}`);
  }
  const momentum = options.momentum ?? 0.1;
  const eps = options.eps ?? 1e-5;
  if (!Number.isFinite(momentum) || momentum < 0 || momentum > 1) {
    throw new Error(`${OP}: momentum must be a number in [0, 1], got ${momentum}`);
  }
  if (!Number.isFinite(eps) || eps < 0) throw new Error(`${OP}: eps must be a finite number >= 0, got ${eps}`);
  const ng = options.training ? n / groups : n;
  if (options.training && ng * h * w <= 1) {
    throw new Error(
      `${OP}: training needs more than 1 value per channel and group, got (N/groups)·H·W = ${ng * h * w} for x ${fmt(x.shape)} and groups = ${groups}`,
    );
  }
  if (options.training) {
    // The running stats are written in place: they must not alias each other or any input.
    for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar]] as const) {
      const others = { x, weight, bias, residual, runningMean, runningVar };
      for (const [otherName, o] of Object.entries(others)) {
        if (o && otherName !== name && rangesOverlap(rangeOf(t), rangeOf(o))) {
          throw new Error(`${OP}: ${name} shares memory with ${otherName}; it is updated in place and needs its own buffer`);
        }
      }
    }
  }
  const vec4 = (h * w) % 4 === 0;
  return { n, c, hw: vec4 ? (h * w) / 4 : h * w, vec4, groups: options.training ? groups : 1, ng, count: ng * h * w, momentum, eps };
}

/**
 * y = relu?( (x − mean)/sqrt(var + eps)·weight + bias + residual? ) for x [N, C, H, W], PyTorch's
 * BatchNorm2d. In training mode the statistics come from the batch (per group of N/groups
 * consecutive samples) and the running stats are updated in place; in eval mode the running stats
 * normalise and nothing changes. Differentiable in x, weight, bias and residual.
 */
export function batchNorm2d(x: Tensor, params: BatchNormParams, options: BatchNormOptions): Tensor {
  const plan = validate(x, params, options);
  const ctx = x.ctx;
  const { weight, bias, runningMean, runningVar } = params;
  const residual = options.residual ?? null;
  const relu = options.relu ?? false;
  const training = options.training;
  const { c, hw, vec4, groups, ng, momentum, eps } = plan;
  const layout = applyLayout(hw);
  const coef = emptyTensor(ctx, [4, groups, c]);
  if (training) {
    ctx.run(
      statsK(vec4, ctx.subgroupSize ?? 0),
      [x, weight, bias, runningMean, runningVar, coef].map(rangeOf),
      { c, ng, groups, hw, count: plan.count, momentum, eps },
    );
  } else {
    ctx.run(evalCoefK(), [weight, bias, runningMean, runningVar, coef].map(rangeOf), { c, eps });
  }
  const y = emptyTensor(ctx, x.shape);
  const applyUniforms = { c, ng, groups, hw, total: plan.n * c * hw };
  ctx.run(applyK(vec4, relu, residual !== null, layout), [x, coef, ...(residual ? [residual] : []), y].map(rangeOf), applyUniforms);

  const inputs = [x, weight, bias, ...(residual ? [residual] : [])];
  const needs = inputs.map((t) => t.requiresGrad);
  const result = record(
    OP,
    y,
    inputs,
    (g, [sx, sCoef, sy]) => {
      const [needX, needW, needB, needR] = needs;
      let dx: Tensor | null = null;
      let dweight: Tensor | null = null;
      let dbias: Tensor | null = null;
      let gz: Tensor | null = null;
      if (needX || needW || needB) {
        const dcoef = emptyTensor(ctx, [groups, c, 4]);
        dweight = emptyTensor(ctx, [c]);
        dbias = emptyTensor(ctx, [c]);
        const reduceInputs = [g, sx!, ...(relu ? [sy!] : []), sCoef!, dcoef, dweight, dbias];
        ctx.run(backwardReduceK(vec4, ctx.subgroupSize ?? 0, relu, training), reduceInputs.map(rangeOf), {
          c,
          ng,
          groups,
          hw,
          count: plan.count,
        });
        if (needX) {
          dx = emptyTensor(ctx, x.shape);
          const writeGz = relu && needR === true;
          if (writeGz) gz = emptyTensor(ctx, x.shape);
          const applyInputs = [g, ...(training ? [sx!] : []), ...(relu ? [sy!] : []), dcoef, dx, ...(gz ? [gz] : [])];
          ctx.run(backwardApplyK(vec4, relu, training, writeGz, layout), applyInputs.map(rangeOf), applyUniforms);
        }
      }
      const grads: (Tensor | null)[] = [dx, needW ? dweight : null, needB ? dbias : null];
      if (residual) grads.push(needR ? (relu ? (gz ?? mapBinary('reluGrad', g, sy!)) : g) : null);
      return grads;
    },
    relu ? [x, coef, y] : [x, coef],
  );
  coef.dispose();
  return result;
}
