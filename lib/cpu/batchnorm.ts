// CPU reference of batchNorm2d (NCHW) in float64, PyTorch semantics, with ghost-batch groups and
// the fused ReLU / residual epilogue:
//   y = relu?( (x − μ)·σ⁻¹·γ + β + residual? ),  σ⁻¹ = 1 / sqrt(var + eps)
// Training: μ and the biased var come from each group of N/G consecutive samples (per channel);
// running = (1 − m)·running + m·stat, where stat is the group average of the means and of the
// unbiased variances. Eval: μ and var are the running stats and nothing is updated.
// The backward is written out analytically (the three-term formula), as the yardstick for the GPU
// backward on shapes too big for finite differences.
import { refSize, type RefArray } from './array';

export interface RefBatchNormOptions {
  training: boolean;
  momentum?: number;
  eps?: number;
  groups?: number;
  relu?: boolean;
}

export interface RefBatchNormResult {
  y: RefArray;
  /** The running stats after this call (copies; the inputs are not changed). */
  runningMean: RefArray;
  runningVar: RefArray;
  /** Per (group, channel) statistics used to normalise, [G·C] (G = 1 in eval mode). */
  mean: Float64Array;
  invstd: Float64Array;
}

export interface RefBatchNormGrads {
  dx: RefArray;
  dweight: RefArray;
  dbias: RefArray;
  /** Gradient of the residual (the gradient after the ReLU mask), when a residual was given. */
  dresidual: RefArray | null;
}

interface Layout {
  n: number;
  c: number;
  hw: number;
  groups: number;
  ng: number;
}

function layoutOf(x: RefArray, options: RefBatchNormOptions): Layout {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const groups = options.training ? (options.groups ?? 1) : 1;
  if (x.shape.length !== 4 || n % groups !== 0) throw new Error(`refBatchNorm2d: bad shape [${x.shape}] for ${groups} groups`);
  return { n, c, hw: h * w, groups, ng: n / groups };
}

/** Calls f(flat index) for every element of channel c in samples [n0, n1). */
function eachOf(l: Layout, c: number, n0: number, n1: number, f: (i: number) => void): void {
  for (let n = n0; n < n1; n++) {
    const base = (n * l.c + c) * l.hw;
    for (let k = 0; k < l.hw; k++) f(base + k);
  }
}

export function refBatchNorm2d(
  x: RefArray,
  weight: RefArray,
  bias: RefArray,
  runningMean: RefArray,
  runningVar: RefArray,
  residual: RefArray | null,
  options: RefBatchNormOptions,
): RefBatchNormResult {
  const l = layoutOf(x, options);
  const momentum = options.momentum ?? 0.1;
  const eps = options.eps ?? 1e-5;
  const mean = new Float64Array(l.groups * l.c);
  const invstd = new Float64Array(l.groups * l.c);
  const rm = Float64Array.from(runningMean.data);
  const rv = Float64Array.from(runningVar.data);
  const count = l.ng * l.hw;
  for (let c = 0; c < l.c; c++) {
    if (!options.training) {
      mean[c] = runningMean.data[c]!;
      invstd[c] = 1 / Math.sqrt(runningVar.data[c]! + eps);
      continue;
    }
    let meanSum = 0;
    let varSum = 0;
    for (let g = 0; g < l.groups; g++) {
      let s = 0;
      eachOf(l, c, g * l.ng, (g + 1) * l.ng, (i) => (s += x.data[i]!));
      const mu = s / count;
      let ss = 0;
      eachOf(l, c, g * l.ng, (g + 1) * l.ng, (i) => (ss += (x.data[i]! - mu) ** 2));
      const biased = ss / count;
      mean[g * l.c + c] = mu;
      invstd[g * l.c + c] = 1 / Math.sqrt(biased + eps);
      meanSum += mu;
      varSum += ss / (count - 1);
    }
    rm[c] = (1 - momentum) * rm[c]! + (momentum * meanSum) / l.groups;
    rv[c] = (1 - momentum) * rv[c]! + (momentum * varSum) / l.groups;
  }
  const y = new Float64Array(refSize(x.shape));
  for (let c = 0; c < l.c; c++) {
    for (let g = 0; g < l.groups; g++) {
      const s = g * l.c + c;
      eachOf(l, c, g * l.ng, (g + 1) * l.ng, (i) => {
        let v = (x.data[i]! - mean[s]!) * invstd[s]! * weight.data[c]! + bias.data[c]!;
        if (residual) v += residual.data[i]!;
        y[i] = options.relu ? Math.max(v, 0) : v;
      });
    }
  }
  return {
    y: { data: y, shape: [...x.shape] },
    runningMean: { data: rm, shape: [l.c] },
    runningVar: { data: rv, shape: [l.c] },
    mean,
    invstd,
  };
}

/**
 * Gradients of batchNorm2d given the output gradient gy (recomputes the forward). The ReLU mask is
 * y > 0 of this forward, or of `reluOutput` when given: an implementation under test may pass its
 * own forward output, so that a pre-activation within rounding of 0 (the kink, where either side
 * is right) is decided the same way on both sides.
 */
export function refBatchNorm2dBackward(
  gy: RefArray,
  x: RefArray,
  weight: RefArray,
  bias: RefArray,
  runningMean: RefArray,
  runningVar: RefArray,
  residual: RefArray | null,
  options: RefBatchNormOptions,
  reluOutput?: ArrayLike<number>,
): RefBatchNormGrads {
  const fwd = refBatchNorm2d(x, weight, bias, runningMean, runningVar, residual, options);
  const l = layoutOf(x, options);
  const count = l.ng * l.hw;
  const active = reluOutput ?? fwd.y.data;
  // gz: the gradient of the pre-ReLU sum (also the residual's gradient).
  const gz = Float64Array.from(gy.data, (g, i) => (options.relu && !(active[i]! > 0) ? 0 : g));
  const dx = new Float64Array(gz.length);
  const dweight = new Float64Array(l.c);
  const dbias = new Float64Array(l.c);
  for (let c = 0; c < l.c; c++) {
    for (let g = 0; g < l.groups; g++) {
      const s = g * l.c + c;
      const mu = fwd.mean[s]!;
      const is = fwd.invstd[s]!;
      let sumG = 0;
      let sumGX = 0;
      eachOf(l, c, g * l.ng, (g + 1) * l.ng, (i) => {
        sumG += gz[i]!;
        sumGX += gz[i]! * (x.data[i]! - mu) * is;
      });
      dbias[c] += sumG;
      dweight[c] += sumGX;
      const k = weight.data[c]! * is;
      eachOf(l, c, g * l.ng, (g + 1) * l.ng, (i) => {
        const xhat = (x.data[i]! - mu) * is;
        dx[i] = options.training ? (k * (count * gz[i]! - sumG - xhat * sumGX)) / count : k * gz[i]!;
      });
    }
  }
  return {
    dx: { data: dx, shape: [...x.shape] },
    dweight: { data: dweight, shape: [l.c] },
    dbias: { data: dbias, shape: [l.c] },
    dresidual: residual ? { data: gz, shape: [...x.shape] } : null,
  };
}
