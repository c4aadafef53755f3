// batchNorm2d against the float64 CPU reference: forward (training and eval, ghost-batch groups,
// fused ReLU and residual), the in-place running-stat updates over two steps, the backward against
// central finite differences (tiny shapes) and the analytic CPU backward (larger shapes), data with
// a large mean, and bad input. Every case runs with the subgroup kernels and without.
import { test } from 'uvu';
import { fromArray, type Tensor } from '../lib/index';
import { refBatchNorm2d, refBatchNorm2dBackward, type RefArray, type RefBatchNormOptions } from '../lib/cpu/index';
import { batchNorm2d } from '../lib/ops/batchnorm';
import { assertClose, assertThrows, type Tolerance } from './helpers/assert';
import { caseGenerator, checkOp, randomArray } from './helpers/check';
import { onPath } from './helpers/gpu';

interface Case {
  shape: [number, number, number, number];
  groups?: number;
  relu?: boolean;
  residual?: boolean;
}

// Spatial sizes: 1×1 (one unit per block), 3×3 = 9 (one past the 8-lane subgroup), 1×7 (one short
// of it), 9×5 and 7×7 (odd, scalar kernels), 2×2 (one vec4 per block), 4×4 (4 vec4s: shorter than
// a subgroup), 8×8 (16 vec4s: subgroup multiple), 32×32 (256 vec4s). The elementwise passes walk
// blocks of up to 64 units per invocation ('rows') and longer ones in chunks ('chunks'): 16×16 is
// 64 vec4s (the last 'rows' size), 10×26 is 65 vec4s and 9×9 is 81 scalars ('chunks').
// N = 1, 2, 4, 6, 8; C = 1, 3, 5, 17, 64.
const FORWARD_CASES: Case[] = [
  { shape: [2, 3, 7, 7] },
  { shape: [6, 17, 9, 5], groups: 2, relu: true },
  { shape: [1, 64, 32, 32], residual: true },
  { shape: [6, 1, 1, 1], groups: 3 },
  { shape: [2, 64, 1, 1], relu: true, residual: true },
  { shape: [6, 3, 32, 32], groups: 2, residual: true },
  { shape: [1, 17, 7, 7], relu: true },
  { shape: [8, 3, 9, 5], groups: 4, relu: true, residual: true },
  { shape: [8, 17, 4, 4], groups: 4 },
  { shape: [8, 64, 2, 2], groups: 4, relu: true },
  { shape: [6, 3, 3, 3], groups: 2 },
  { shape: [2, 17, 1, 7], residual: true },
  { shape: [2, 3, 8, 8], groups: 2, relu: true, residual: true },
  { shape: [2, 3, 16, 16], relu: true },
  { shape: [4, 3, 10, 26], groups: 2, residual: true },
  { shape: [6, 5, 9, 9], groups: 3, relu: true, residual: true },
];

const PATHS = [
  { name: 'subgroup kernels', subgroups: true },
  { name: 'kernels without subgroups', subgroups: false },
];

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const refOf = (a: Float32Array, shape: readonly number[]): RefArray => ({ data: Float64Array.from(a), shape: [...shape] });

/** Host data of one BatchNorm call: x, params, running stats (positive variances), residual. */
function makeHost(c: Case, draw?: (i: number) => number) {
  const g = caseGenerator();
  const ch = c.shape[1];
  const n = size(c.shape);
  return {
    x: draw ? Float32Array.from({ length: n }, (_, i) => draw(i)) : randomArray(g, n, (r) => 1.5 * r.normal() + 0.5),
    weight: randomArray(g, ch, (r) => r.uniformRange(0.5, 2) * (r.uniform() < 0.2 ? -1 : 1)),
    bias: randomArray(g, ch),
    runningMean: randomArray(g, ch),
    runningVar: randomArray(g, ch, (r) => r.uniformRange(0.5, 2)),
    residual: c.residual ? randomArray(g, n) : null,
    gy: randomArray(g, n),
  };
}
type Host = ReturnType<typeof makeHost>;

function gpuParams(h: Host, requiresGrad = false) {
  return {
    weight: fromArray(h.weight, [h.weight.length], { requiresGrad }),
    bias: fromArray(h.bias, [h.bias.length], { requiresGrad }),
    runningMean: fromArray(h.runningMean),
    runningVar: fromArray(h.runningVar),
  };
}

function refArgs(h: Host, c: Case) {
  const ch = [c.shape[1]];
  return [
    refOf(h.x, c.shape),
    refOf(h.weight, ch),
    refOf(h.bias, ch),
    refOf(h.runningMean, ch),
    refOf(h.runningVar, ch),
    h.residual ? refOf(h.residual, c.shape) : null,
  ] as const;
}

function label(c: Case, training: boolean): string {
  return `[${c.shape}] ${training ? `training groups=${c.groups ?? 1}` : 'eval'}${c.relu ? ' relu' : ''}${c.residual ? ' residual' : ''}`;
}

/** Runs fn with the subgroup kernels on or off, and checks no tensor was left alive. */
const withPath = (subgroups: boolean, fn: () => Promise<void>) => onPath(subgroups, fn, { checkLeaks: true });

// Forward: y = x·scale + shift in float32, where scale = weight·σ⁻¹ and shift ≈ −μ·scale, loses a
// few ulps of |x·scale| to cancellation (the reference is float64 on the same float32 inputs). The
// tolerance is 8 ulps of the largest |x|·|scale| of the case, plus 1e-5 relative and absolute.
const EPS32 = 2 ** -23;
function yTolerance(x: ArrayLike<number>, weight: ArrayLike<number>, invstd: ArrayLike<number>): Tolerance {
  let xMax = 0;
  for (let i = 0; i < x.length; i++) xMax = Math.max(xMax, Math.abs(x[i]!));
  let scaleMax = 0;
  for (let i = 0; i < invstd.length; i++) scaleMax = Math.max(scaleMax, Math.abs(weight[i % weight.length]!) * invstd[i]!);
  return { rtol: 1e-5, atol: 1e-5 + 8 * EPS32 * xMax * scaleMax };
}
// Running stats: the statistic's own float32 summation error, √M·ε relative at worst.
const STAT_TOL: Tolerance = { rtol: 1e-5, atol: 1e-5 };
// dx = scale·(gz − Sdy/M − x̂·T/M): x − μ carries an absolute error of a few ulps of |x|, which
// the formula multiplies by scale·σ⁻¹ (large when a group's variance is tiny, e.g. M = 2). The
// tolerance is 16 ulps of max|x|·max(|γ|·σ⁻²)·max|gy|, plus 1e-4 relative and 2e-5 absolute.
function dxTolerance(x: ArrayLike<number>, weight: ArrayLike<number>, invstd: ArrayLike<number>, gy: ArrayLike<number>): Tolerance {
  const maxAbs = (a: ArrayLike<number>) => {
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
    return m;
  };
  let k = 0;
  for (let i = 0; i < invstd.length; i++) k = Math.max(k, Math.abs(weight[i % weight.length]!) * invstd[i]! ** 2);
  return { rtol: 1e-4, atol: 2e-5 + 16 * EPS32 * maxAbs(x) * k * maxAbs(gy) };
}

for (const path of PATHS) {
  test(`batchNorm2d training forward and two running-stat updates (${path.name})`, async () => {
    await withPath(path.subgroups, async () => {
      for (const c of FORWARD_CASES) {
        const h = makeHost(c);
        const second = makeHost(c); // a second batch for the second step
        const p = gpuParams(h);
        const options = { training: true, groups: c.groups ?? 1, relu: c.relu ?? false };
        const refOptions: RefBatchNormOptions = options;
        const [rx, rw, rb, rm, rv, rres] = refArgs(h, c);
        // Step 1.
        let x = fromArray(h.x, c.shape);
        let res = h.residual ? fromArray(h.residual, c.shape) : null;
        let y = batchNorm2d(x, p, { ...options, residual: res });
        const ref1 = refBatchNorm2d(rx, rw, rb, rm, rv, rres, refOptions);
        assertClose(await y.toArray(), ref1.y.data, yTolerance(h.x, h.weight, ref1.invstd), `${label(c, true)} step 1 y`);
        assertClose(await p.runningMean.toArray(), ref1.runningMean.data, STAT_TOL, `${label(c, true)} step 1 running mean`);
        assertClose(await p.runningVar.toArray(), ref1.runningVar.data, STAT_TOL, `${label(c, true)} step 1 running var`);
        [x, y, res].forEach((t) => t?.dispose());
        // Step 2 on another batch, from the updated running stats.
        x = fromArray(second.x, c.shape);
        res = second.residual ? fromArray(second.residual, c.shape) : null;
        y = batchNorm2d(x, p, { ...options, residual: res });
        const ref2 = refBatchNorm2d(
          refOf(second.x, c.shape),
          rw,
          rb,
          ref1.runningMean,
          ref1.runningVar,
          second.residual ? refOf(second.residual, c.shape) : null,
          refOptions,
        );
        assertClose(await y.toArray(), ref2.y.data, yTolerance(second.x, h.weight, ref2.invstd), `${label(c, true)} step 2 y`);
        assertClose(await p.runningMean.toArray(), ref2.runningMean.data, STAT_TOL, `${label(c, true)} step 2 running mean`);
        assertClose(await p.runningVar.toArray(), ref2.runningVar.data, STAT_TOL, `${label(c, true)} step 2 running var`);
        [x, y, res, ...Object.values(p)].forEach((t) => t?.dispose());
      }
    });
  });

  test(`batchNorm2d eval forward uses and keeps the running stats (${path.name})`, async () => {
    await withPath(path.subgroups, async () => {
      for (const c of FORWARD_CASES) {
        const h = makeHost(c);
        const p = gpuParams(h);
        const x = fromArray(h.x, c.shape);
        const res = h.residual ? fromArray(h.residual, c.shape) : null;
        // groups is ignored in eval mode (the running stats normalise every sample).
        const y = batchNorm2d(x, p, { training: false, groups: c.groups ?? 1, relu: c.relu ?? false, residual: res });
        const ref = refBatchNorm2d(...refArgs(h, c), { training: false, relu: c.relu ?? false });
        assertClose(await y.toArray(), ref.y.data, yTolerance(h.x, h.weight, ref.invstd), `${label(c, false)} y`);
        assertClose(await p.runningMean.toArray(), h.runningMean, { rtol: 0, atol: 0 }, `${label(c, false)} running mean unchanged`);
        assertClose(await p.runningVar.toArray(), h.runningVar, { rtol: 0, atol: 0 }, `${label(c, false)} running var unchanged`);
        [x, y, res, ...Object.values(p)].forEach((t) => t?.dispose());
      }
    });
  });
}

// Tiny shapes for finite differences: every input (x, weight, bias, residual) gets a gradient.
const FD_CASES: (Case & { training: boolean })[] = [
  { shape: [2, 3, 2, 3], training: true },
  { shape: [4, 2, 3, 1], training: true, groups: 2, relu: true },
  { shape: [4, 2, 2, 2], training: true, groups: 4, residual: true },
  { shape: [2, 2, 1, 3], training: true, relu: true, residual: true },
  { shape: [6, 2, 1, 1], training: true, groups: 3 },
  { shape: [3, 2, 2, 3], training: false, relu: true, residual: true },
  { shape: [1, 3, 1, 5], training: false },
];

/** Draws that hand out the given arrays in order (checkOp draws each input element by element). */
function replay(arrays: Float32Array[]): (g: unknown, input: number) => number {
  const next = arrays.map(() => 0);
  return (_g, input) => arrays[input]![next[input]!++]!;
}

/** Smallest |pre-activation| (the value the ReLU sees) of a case, in float64. */
function kinkDistance(h: Host, c: Case, options: RefBatchNormOptions): number {
  const z = refBatchNorm2d(...refArgs(h, c), { ...options, relu: false }).y.data;
  return z.reduce((m, v) => Math.min(m, Math.abs(v)), Infinity);
}

for (const path of PATHS) {
  test(`batchNorm2d backward vs central finite differences (${path.name})`, async () => {
    await withPath(path.subgroups, async () => {
      for (const c of FD_CASES) {
        const ch = [c.shape[1]];
        const options = { training: c.training, groups: c.groups ?? 1, relu: c.relu ?? false };
        // Redraw until the case is well conditioned: no pre-activation within 0.05 of the ReLU kink
        // (a difference step of 1e-5 moves one by at most ~2e-5·|scale|, |scale| ≤ 6 here), and no
        // group with σ⁻¹ > 3 (variance < 0.11: with M = 2 values that happens; central differences
        // then carry an error growing like σ⁻³ and float32 a cancellation like σ⁻², which the
        // analytic tests below cover with a tolerance that scales accordingly).
        const wellConditioned = (h: Host) =>
          (!options.relu || kinkDistance(h, c, options) >= 0.05) &&
          refBatchNorm2d(...refArgs(h, c), options).invstd.every((s) => s <= 3);
        let h = makeHost(c);
        while (!wellConditioned(h)) h = makeHost(c);
        const inputs = [h.x, h.weight, h.bias, ...(h.residual ? [h.residual] : [])];
        const rm = refOf(h.runningMean, ch);
        const rv = refOf(h.runningVar, ch);
        await checkOp({
          name: `batchNorm2d ${label(c, c.training)}`,
          shapes: [c.shape, ch, ch, ...(c.residual ? [c.shape] : [])],
          draw: replay(inputs),
          gpu: (x, weight, bias, residual) =>
            batchNorm2d(
              x!,
              { weight: weight!, bias: bias!, runningMean: fromArray(h.runningMean), runningVar: fromArray(h.runningVar) },
              { ...options, residual: residual ?? null },
            ),
          cpu: (x, weight, bias, residual) => refBatchNorm2d(x!, weight!, bias!, rm, rv, residual ?? null, options).y,
          forward: yTolerance(h.x, h.weight, refBatchNorm2d(...refArgs(h, c), options).invstd),
          // f32 backward vs float64 differences with h = 1e-5 (truncation error ~1e-9).
          backward: { rtol: 1e-3, atol: 1e-4 },
        });
      }
    });
  });
}

// Larger shapes against the analytic CPU backward, including inputs without gradients.
const BACKWARD_CASES: (Case & { training: boolean; grads?: [boolean, boolean, boolean, boolean] })[] = [
  { shape: [6, 17, 9, 5], training: true, groups: 2, relu: true, residual: true },
  { shape: [8, 64, 8, 8], training: true, groups: 4 },
  { shape: [2, 3, 32, 32], training: true, relu: true },
  { shape: [6, 64, 1, 1], training: true, groups: 2, residual: true },
  { shape: [1, 17, 7, 7], training: true, residual: true, relu: true },
  { shape: [6, 17, 7, 7], training: false, relu: true, residual: true },
  { shape: [8, 3, 4, 4], training: false, groups: 4 },
  { shape: [4, 3, 10, 26], training: true, groups: 2, relu: true, residual: true },
  { shape: [6, 5, 9, 9], training: true, groups: 3, relu: true },
  { shape: [2, 5, 9, 9], training: false, residual: true },
  { shape: [2, 3, 16, 16], training: true, relu: true, residual: true },
  // Only some inputs need gradients: weight/bias only; the residual only (through the ReLU mask).
  { shape: [6, 17, 9, 5], training: true, relu: true, residual: true, grads: [false, true, true, false] },
  { shape: [2, 3, 8, 8], training: true, relu: true, residual: true, grads: [false, false, false, true] },
  { shape: [2, 3, 8, 8], training: true, relu: true, residual: true, grads: [true, false, false, true] },
];

for (const path of PATHS) {
  test(`batchNorm2d backward vs the analytic CPU backward (${path.name})`, async () => {
    await withPath(path.subgroups, async () => {
      for (const c of BACKWARD_CASES) {
        const h = makeHost(c);
        const [wantX, wantW, wantB, wantR] = c.grads ?? [true, true, true, true];
        const p = gpuParams(h);
        p.weight.requiresGrad = wantW;
        p.bias.requiresGrad = wantB;
        const x = fromArray(h.x, c.shape, { requiresGrad: wantX });
        const res = h.residual ? fromArray(h.residual, c.shape, { requiresGrad: wantR }) : null;
        const options = { training: c.training, groups: c.groups ?? 1, relu: c.relu ?? false };
        const y = batchNorm2d(x, p, { ...options, residual: res });
        const name = label(c, c.training);
        const yHost = await y.toArray();
        const fwd = refBatchNorm2d(...refArgs(h, c), options);
        assertClose(yHost, fwd.y.data, yTolerance(h.x, h.weight, fwd.invstd), `${name} y`);
        const gy = fromArray(h.gy, c.shape);
        y.backward(gy);
        // The ReLU mask is taken from our forward output (just checked against the reference).
        const ref = refBatchNorm2dBackward(refOf(h.gy, c.shape), ...refArgs(h, c), options, yHost);
        const expectGrad = async (t: Tensor, want: boolean, expected: RefArray | null, tol: Tolerance, what: string) => {
          if (!want) {
            if (t.grad) throw new Error(`${name}: ${what} got a gradient it did not ask for`);
            return;
          }
          if (!t.grad) throw new Error(`${name}: ${what} got no gradient`);
          assertClose(await t.grad.toArray(), expected!.data, tol, `${name} ${what}`);
        };
        await expectGrad(x, wantX, ref.dx, dxTolerance(h.x, h.weight, fwd.invstd, h.gy), 'dx');
        // dweight, dbias: sums over N·H·W products; error grows like √(N·H·W)·ε.
        const sumTol = { rtol: 1e-4, atol: 2e-6 * Math.sqrt(size(c.shape) / c.shape[1]) };
        await expectGrad(p.weight, wantW, ref.dweight, sumTol, 'dweight');
        await expectGrad(p.bias, wantB, ref.dbias, sumTol, 'dbias');
        if (res) await expectGrad(res, wantR, ref.dresidual, { rtol: 0, atol: 0 }, 'dresidual');
        [x, y, gy, res, ...Object.values(p)].forEach((t) => t?.dispose());
      }
    });
  });
}

for (const path of PATHS) {
  test(`batchNorm2d on data with a large mean (100 ± 0.1) keeps the variance accurate (${path.name})`, async () => {
    await withPath(path.subgroups, async () => {
      for (const c of [
        { shape: [4, 3, 16, 16], groups: 2 },
        { shape: [6, 5, 7, 7], groups: 1 },
      ] as Case[]) {
        const g = caseGenerator();
        const h = makeHost(c, () => 100 + 0.1 * g.normal());
        const p = gpuParams(h);
        const x = fromArray(h.x, c.shape, { requiresGrad: true });
        const y = batchNorm2d(x, p, { training: true, groups: c.groups ?? 1 });
        const ref = refBatchNorm2d(...refArgs(h, c), { training: true, groups: c.groups ?? 1 });
        // μ is rounded to float32 at magnitude 100 (ulp 8e-6), i.e. 1e-4 of a standard deviation;
        // a plain E[x²] − E[x]² would be off by ~10% here (ulp of 1e4 is 1e-3, the variance 0.01).
        assertClose(await y.toArray(), ref.y.data, { rtol: 1e-3, atol: 5e-4 }, `${label(c, true)} large-mean y`);
        assertClose(await p.runningVar.toArray(), ref.runningVar.data, { rtol: 1e-4, atol: 1e-6 }, `${label(c, true)} large-mean running var`);
        assertClose(await p.runningMean.toArray(), ref.runningMean.data, { rtol: 1e-6, atol: 0 }, `${label(c, true)} large-mean running mean`);
        const gy = fromArray(h.gy, c.shape);
        y.backward(gy);
        const refGrad = refBatchNorm2dBackward(refOf(h.gy, c.shape), ...refArgs(h, c), { training: true, groups: c.groups ?? 1 });
        // dx is O(weight/σ) = O(10): the same 1e-4 relative error of x − μ, times 10.
        assertClose(await x.grad!.toArray(), refGrad.dx.data, { rtol: 1e-3, atol: 5e-3 }, `${label(c, true)} large-mean dx`);
        [x, y, gy, ...Object.values(p)].forEach((t) => t.dispose());
      }
    });
  });
}

test('batchNorm2d with 65,537 channels (the reductions fold their grid into y)', async () => {
  const c: Case = { shape: [8, 65537, 1, 1], relu: true };
  for (const path of PATHS) {
    await withPath(path.subgroups, async () => {
      const h = makeHost(c);
      const p = gpuParams(h);
      const x = fromArray(h.x, c.shape, { requiresGrad: true });
      const y = batchNorm2d(x, p, { training: true, relu: true });
      const ref = refBatchNorm2d(...refArgs(h, c), { training: true, relu: true });
      assertClose(await y.toArray(), ref.y.data, yTolerance(h.x, h.weight, ref.invstd), `${label(c, true)} ${path.name} y`);
      assertClose(await p.runningVar.toArray(), ref.runningVar.data, STAT_TOL, `${label(c, true)} ${path.name} running var`);
      const yHost = await y.toArray();
      const gy = fromArray(h.gy, c.shape);
      y.backward(gy);
      const grads = refBatchNorm2dBackward(refOf(h.gy, c.shape), ...refArgs(h, c), { training: true, relu: true }, yHost);
      assertClose(await x.grad!.toArray(), grads.dx.data, dxTolerance(h.x, h.weight, ref.invstd, h.gy), `${label(c, true)} ${path.name} dx`);
      [x, y, gy, ...Object.values(p)].forEach((t) => t.dispose());
    });
  }
});

test('batchNorm2d honours momentum and eps', async () => {
  const c: Case = { shape: [4, 5, 3, 4], groups: 2 };
  const h = makeHost(c);
  const p = gpuParams(h);
  const x = fromArray(h.x, c.shape);
  const options = { training: true, groups: 2, momentum: 0.3, eps: 0.5 };
  const y = batchNorm2d(x, p, options);
  const ref = refBatchNorm2d(...refArgs(h, c), options);
  assertClose(await y.toArray(), ref.y.data, yTolerance(h.x, h.weight, ref.invstd), 'momentum 0.3 eps 0.5 y');
  assertClose(await p.runningMean.toArray(), ref.runningMean.data, STAT_TOL, 'momentum 0.3 running mean');
  assertClose(await p.runningVar.toArray(), ref.runningVar.data, STAT_TOL, 'momentum 0.3 running var');
  [x, y, ...Object.values(p)].forEach((t) => t.dispose());
});

test('batchNorm2d refuses bad input with errors naming the op and the shapes', () => {
  const x = fromArray(new Float32Array(6 * 3 * 2 * 2), [6, 3, 2, 2]);
  const c3 = () => fromArray([1, 1, 1]);
  const p = { weight: c3(), bias: c3(), runningMean: c3(), runningVar: c3() };
  assertThrows(() => batchNorm2d(x, p, { training: true, groups: 4 }), 'batchNorm2d', 'N = 6', '[6, 3, 2, 2]', 'groups = 4');
  assertThrows(() => batchNorm2d(x, p, { training: true, groups: 0 }), 'batchNorm2d', 'groups', 'positive');
  const x3 = x.reshape([6, 3, 4]);
  assertThrows(() => batchNorm2d(x3, p, { training: true }), 'batchNorm2d', '[6, 3, 4]', 'rank 4');
  const w4 = fromArray([1, 1, 1, 1]);
  assertThrows(() => batchNorm2d(x, { ...p, weight: w4 }, { training: true }), 'batchNorm2d', 'weight', '[4]', '[3]', '[6, 3, 2, 2]');
  assertThrows(() => batchNorm2d(x, { ...p, runningVar: w4 }, { training: false }), 'batchNorm2d', 'runningVar', '[4]');
  const r = fromArray(new Float32Array(6 * 3 * 4), [6, 3, 4, 1]);
  assertThrows(() => batchNorm2d(x, p, { training: true, residual: r }), 'batchNorm2d', 'residual', '[6, 3, 4, 1]', '[6, 3, 2, 2]');
  const one = fromArray([1, 2, 3], [1, 3, 1, 1]);
  assertThrows(() => batchNorm2d(one, p, { training: true }), 'batchNorm2d', 'more than 1 value', '[1, 3, 1, 1]');
  assertThrows(() => batchNorm2d(x, { ...p, runningVar: p.runningMean }, { training: true }), 'batchNorm2d', 'runningVar', 'runningMean');
  assertThrows(() => batchNorm2d(x, p, { training: true, momentum: 2 }), 'batchNorm2d', 'momentum');
  assertThrows(() => batchNorm2d(x, p, {} as { training: boolean }), 'batchNorm2d', 'training');
  // Eval mode with a single value per channel is fine (nothing is estimated).
  const y = batchNorm2d(one, p, { training: false });
  [x, x3, w4, r, one, y, ...Object.values(p)].forEach((t) => t.dispose());
});

test.run();
