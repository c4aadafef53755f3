import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addScaledInPlace, copyInPlace, fromArray, liveTensorCount, mulInPlace, type Tensor } from '../lib/index';
import { refConv2d, refConv2dBackward, type RefArray } from '../lib/cpu/index';
import { igemmDispatch, ticketTiles } from '../kernels/conv2d';
import { ticketGrid } from '../kernels/spec';
import {
  conv2d,
  conv2dAlgorithm,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  convCacheLimits,
  convLaunchLimits,
  planWeightGradSplit,
  type Conv2dOptions,
} from '../lib/ops/conv';
import { winogradApplies, winogradSettings } from '../lib/ops/conv-winograd';
import { convGeometry, readsInputDirectly } from '../kernels/conv2d-geometry';
import { toomCook, WINOGRAD_POINTS } from '../kernels/winograd-matrices';
import { assertClose, assertThrows, type Tolerance } from './helpers/assert';
import { caseGenerator, checkOp, randomArray } from './helpers/check';
import { bothPaths, ctx, onPath, pathName } from './helpers/gpu';

// Tolerances. Inputs and output gradients are N(0, 1) and weights N(0, 1/fan_in), so every output
// is a sum of L products. Float32 summation of L terms of random sign errs by about
// eps·√L·rms(result), so each comparison allows
//   |gpu − ref| ≤ 1e-4·|ref| + 1e-6·√L·rms(ref)
// with L the reduction length of that result: C·kh·kw for the forward, O·kh·kw for dX,
// N·Ho·Wo for dW and db. Backward through finite differences (float64, tiny shapes): rtol 1e-4,
// atol 1e-5.
// Winograd's transforms add rounding errors that do not shrink with L: with 4×4 tiles the largest
// errors measured on ResNet-18 shapes were 1.6e-5·rms (forward, dX, L = 576) and 1.0e-5·rms (dW
// of 4×4 planes at batch 2, L = 32), 2-8× the implicit GEMM's. Passes on the Winograd path get
// atol 3e-5·rms where that is more than the above.
const WINOGRAD_ATOL = 3e-5;
function tolerance(length: number, expected: Float64Array, winograd = false): Tolerance {
  let sq = 0;
  for (const v of expected) sq += v * v;
  const rms = Math.sqrt(sq / Math.max(1, expected.length));
  const scale = Math.max(1e-6 * Math.sqrt(length), winograd ? WINOGRAD_ATOL : 0);
  return { rtol: 1e-4, atol: scale * Math.max(rms, 1e-3) };
}

interface Case {
  x: [number, number, number, number];
  w: [number, number, number, number];
  stride?: number | [number, number];
  padding?: number | [number, number];
  bias?: boolean;
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const label = (c: Case) => `conv2d x[${c.x}] w[${c.w}] stride ${JSON.stringify(c.stride ?? 1)} padding ${JSON.stringify(c.padding ?? 0)}`;


/**
 * Forward and dX, dW, db on both kernel paths against the float64 CPU reference and
 * its analytic backward, on fresh random inputs.
 */
async function checkAgainstReference(c: Case): Promise<void> {
  const g = caseGenerator();
  const [n, ci] = c.x;
  const [o, , kh, kw] = c.w;
  const fan = ci * kh * kw;
  const xs = randomArray(g, size(c.x));
  const ws = randomArray(g, size(c.w), (r) => r.normal() / Math.sqrt(fan));
  const bs = c.bias === false ? null : randomArray(g, o);
  const options: Conv2dOptions = { stride: c.stride ?? 1, padding: c.padding ?? 0 };
  const xRef: RefArray = { data: Float64Array.from(xs), shape: [...c.x] };
  const wRef: RefArray = { data: Float64Array.from(ws), shape: [...c.w] };
  const expected = refConv2d(xRef, wRef, bs ? { data: Float64Array.from(bs), shape: [o] } : null, options);
  const [, , ho, wo] = expected.shape as [number, number, number, number];
  const gys = randomArray(g, expected.data.length);
  const grads = refConv2dBackward(xRef, wRef, { data: Float64Array.from(gys), shape: expected.shape }, options);
  const pixels = n * ho * wo;
  await bothPaths(async (sg) => {
    const before = liveTensorCount();
    const onWinograd = (pass: 'forward' | 'inputGrad' | 'weightGrad') => conv2dAlgorithm(ctx, c.x, c.w, options, pass).algorithm === 'winograd';
    const [wf, wx, ww] = [onWinograd('forward'), onWinograd('inputGrad'), onWinograd('weightGrad')];
    const name = `${label(c)} [${pathName(sg)}${wf || ww ? `, Winograd${ww ? '' : ' (not dW)'}` : ''}]`;
    const x = fromArray(xs, c.x, { requiresGrad: true });
    const w = fromArray(ws, c.w, { requiresGrad: true });
    const b = bs ? fromArray(bs, [o], { requiresGrad: true }) : null;
    const tensors: Tensor[] = [x, w, ...(b ? [b] : [])];
    try {
      const y = conv2d(x, w, b, options);
      tensors.push(y);
      if (y.shape.join() !== expected.shape.join()) throw new Error(`${name}: output [${y.shape}], expected [${expected.shape}]`);
      assertClose(await y.toArray(), expected.data, tolerance(fan, expected.data, wf), `${name} forward`);
      const gy = fromArray(gys, y.shape);
      tensors.push(gy);
      y.backward(gy);
      assertClose(await x.grad!.toArray(), grads.dx.data, tolerance(o * kh * kw, grads.dx.data, wx), `${name} dX`);
      assertClose(await w.grad!.toArray(), grads.dw.data, tolerance(pixels, grads.dw.data, ww), `${name} dW`);
      if (b) assertClose(await b.grad!.toArray(), grads.db.data, tolerance(pixels, grads.db.data), `${name} db`);
    } finally {
      tensors.forEach((t) => t.dispose());
    }
    if (liveTensorCount() !== before) throw new Error(`${name}: ${liveTensorCount() - before} tensors were left alive`);
  });
}

// Odd sizes, primes, strides 1–3 (also non-square), padding 0–3 (also larger than the kernel),
// kernels 1×1, 3×3, 4×4, 5×5, 7×7, 5×3, channels 1, 3, 5, 17, and the kernel tiles ± 1: the
// GEMM rows come in quads (4 images in the forward and dX, 4 channels in dW), so at N = 1 the
// forward has Ho·Wo quads: 191, 192, 193 for the wide subgroup kernel's 6-quad subgroup tiles and
// 12-quad workgroups, 127, 128, 129 for the 16-quad workgroups without subgroups, and 511, 512,
// 513 for the narrow kernels' 128-quad workgroups; batches of 2, 3, 5, 6 and channel counts that
// are no multiple of 4 leave quads partly empty;
// the reduction (C·kh·kw = 7, 8, 9) and the columns (O = 63, 64, 65; 31 / 32 at the switch
// between narrow and wide kernels; for dX the columns are C = 7, 8, 9 and for dW the quads are
// ceil(C / 4)·kh·kw).
const SWEEP: Case[] = [
  { x: [1, 1, 1, 1], w: [1, 1, 1, 1] },
  { x: [1, 1, 1, 1], w: [1, 1, 3, 3], padding: 1 },
  { x: [2, 3, 7, 7], w: [5, 3, 3, 3], padding: 1 },
  { x: [2, 3, 9, 9], w: [5, 3, 3, 3], stride: 2, padding: 1 },
  { x: [1, 5, 13, 13], w: [17, 5, 7, 7], stride: 2, padding: 3 },
  { x: [2, 17, 7, 9], w: [3, 17, 5, 3], padding: [2, 1] },
  { x: [1, 7, 1, 127], w: [63, 7, 1, 1] },
  { x: [1, 8, 8, 16], w: [64, 8, 1, 1], bias: false },
  { x: [1, 9, 3, 43], w: [65, 9, 1, 1] },
  { x: [1, 7, 1, 191], w: [64, 7, 1, 1] },
  { x: [1, 8, 12, 16], w: [65, 8, 1, 1] },
  { x: [1, 9, 1, 193], w: [63, 9, 1, 1] },
  { x: [1, 1, 13, 11], w: [9, 1, 3, 3], padding: 1 },
  { x: [2, 4, 11, 13], w: [9, 4, 3, 3], stride: [2, 1], padding: [0, 1] },
  { x: [3, 2, 5, 5], w: [7, 2, 5, 5] },
  { x: [1, 3, 10, 10], w: [4, 3, 4, 4], stride: 3, padding: 2 },
  { x: [2, 16, 9, 9], w: [8, 16, 1, 1], stride: 2, bias: false },
  { x: [3, 5, 7, 12], w: [6, 5, 1, 1], stride: [2, 3] }, // 1×1 strided: the subsampled quad copy
  { x: [3, 5, 7, 24], w: [7, 5, 1, 1], stride: 2 }, // 1×1/2 read from the input: narrow kernel, odd h
  { x: [2, 9, 6, 16], w: [65, 9, 1, 1], stride: 2 }, // wide kernel, bias
  { x: [1, 7, 2, 1528], w: [64, 7, 1, 1], stride: 2, bias: false }, // 191 quads
  { x: [1, 9, 1, 772], w: [63, 9, 1, 1] }, // 1×1/1 read from the input: 193 quads
  { x: [2, 3, 4, 20], w: [5, 3, 1, 1], stride: 2 }, // wo = 10: not whole quads, the copy
  { x: [2, 4, 8, 8], w: [5, 4, 1, 1], stride: [1, 2], padding: [1, 0] }, // padded: whole planes
  { x: [1, 2, 4, 4], w: [3, 2, 3, 3], stride: 2, padding: 3 },
  { x: [1, 1, 8, 8], w: [1, 1, 3, 3], stride: 2 },
  { x: [1, 64, 6, 6], w: [32, 64, 3, 3], padding: 1 },
  { x: [1, 2, 1, 511], w: [31, 2, 1, 1] },
  { x: [1, 2, 8, 64], w: [5, 2, 1, 1], bias: false },
  { x: [1, 2, 27, 19], w: [7, 2, 1, 1] },
  { x: [1, 3, 5, 7], w: [32, 3, 3, 3], padding: 1 },
  { x: [5, 3, 6, 6], w: [4, 3, 3, 3], padding: 1 },
  { x: [6, 6, 5, 5], w: [40, 6, 3, 3], stride: 2, padding: 1 },
];

test('1×1 convolutions without padding read the input directly when their output rows are whole quads', () => {
  const direct = (x: number[], w: number[], stride: number, padding = 0) =>
    readsInputDirectly(convGeometry(x, w, { sh: stride, sw: stride, ph: padding, pw: padding }));
  // the downsample convolutions of ResNet-18 (cifar 32/16/8 px, imagenet 16/8/4 px inputs)
  assert.ok(direct([32, 64, 32, 32], [128, 64, 1, 1], 2) && direct([32, 128, 16, 16], [256, 128, 1, 1], 2));
  assert.ok(direct([32, 256, 8, 8], [512, 256, 1, 1], 2) && direct([1, 1, 1, 4], [1, 1, 1, 1], 1));
  assert.not.ok(direct([32, 256, 4, 4], [512, 256, 1, 1], 2), '2×2 output: half quads');
  assert.not.ok(direct([2, 3, 4, 20], [5, 3, 1, 1], 2), 'wo 10');
  assert.not.ok(direct([2, 3, 4, 15], [5, 3, 1, 1], 2), 'w odd (wo 8)');
  assert.not.ok(direct([2, 3, 4, 6], [5, 3, 1, 1], 1), 'w 6 at stride 1');
  assert.not.ok(direct([2, 3, 8, 8], [5, 3, 1, 1], 1, 1), 'padded');
  assert.not.ok(direct([2, 3, 8, 8], [5, 3, 3, 3], 1), '3×3');
  assert.not.ok(direct([2, 3, 12, 12], [5, 3, 1, 1], 3), 'stride 3');
  // the sweep below covers both strides of the direct read
  const stride = (c: Case) => (typeof c.stride === 'number' ? c.stride : c.stride === undefined ? 1 : 0);
  const covered = SWEEP.filter((c) => stride(c) > 0 && direct(c.x, c.w, stride(c), typeof c.padding === 'number' ? c.padding : c.padding ? 1 : 0)).map(stride);
  assert.ok(covered.includes(1) && covered.includes(2), `direct-read cases in the sweep: strides [${covered}]`);
});

test('forward, dX, dW and db match the float64 reference on odd shapes (both kernel paths)', async () => {
  for (const c of SWEEP) await checkAgainstReference(c);
});

/** Every convolution of ResNet-18 for an input of `size` pixels, at batch 2. */
function resnetCases(stem: 'cifar' | 'imagenet'): Case[] {
  const n = 2;
  const list: Case[] =
    stem === 'cifar'
      ? [{ x: [n, 3, 32, 32], w: [64, 3, 3, 3], padding: 1, bias: false }]
      : [{ x: [n, 3, 64, 64], w: [64, 3, 7, 7], stride: 2, padding: 3, bias: false }];
  let h = stem === 'cifar' ? 32 : 16;
  list.push({ x: [n, 64, h, h], w: [64, 64, 3, 3], padding: 1, bias: false });
  let c = 64;
  for (const o of [128, 256, 512]) {
    list.push({ x: [n, c, h, h], w: [o, c, 3, 3], stride: 2, padding: 1, bias: false });
    list.push({ x: [n, c, h, h], w: [o, c, 1, 1], stride: 2, bias: false });
    h /= 2;
    list.push({ x: [n, o, h, h], w: [o, o, 3, 3], padding: 1, bias: false });
    c = o;
  }
  return list;
}

/** Runs fn with the Winograd settings changed as given, and restores them. */
async function withWinograd<T>(settings: Partial<typeof winogradSettings>, fn: () => Promise<T>): Promise<T> {
  const saved = { ...winogradSettings };
  Object.assign(winogradSettings, settings);
  try {
    return await fn();
  } finally {
    Object.assign(winogradSettings, saved);
  }
}

for (const stem of ['cifar', 'imagenet'] as const) {
  test(`every ResNet-18 convolution (${stem} stem) at batch 2: forward, dX, dW vs the reference (both paths; 3×3 stride 1 on Winograd and on the implicit GEMM)`, async () => {
    const cases = resnetCases(stem);
    if (!cases.some((c) => conv2dAlgorithm(ctx, c.x, c.w, { padding: c.padding ?? 0, stride: c.stride ?? 1 }).algorithm === 'winograd')) {
      throw new Error(`no ${stem} ResNet-18 convolution takes the Winograd path`);
    }
    for (const c of cases) await checkAgainstReference(c);
    const winograd = cases.filter((c) => (c.stride ?? 1) === 1 && c.w[2] === 3 && c.w[1] >= 32);
    await withWinograd({ enabled: false }, async () => {
      for (const c of winograd) await checkAgainstReference(c);
    });
  });
}

// Winograd forced onto small shapes (channels ≥ 1) with each tile size: planes that are no tile
// multiple (odd, prime, non-square, 1×1 with padding 1, narrower than a tile), padding 0, 1, 2
// and mixed, batches 1–3, channel counts 1, 3, 5, 33, with and without bias.
const WINOGRAD_SWEEP: Case[] = [
  { x: [1, 1, 1, 1], w: [1, 1, 3, 3], padding: 1 },
  { x: [2, 3, 7, 5], w: [5, 3, 3, 3], padding: 1 },
  { x: [1, 5, 4, 4], w: [3, 5, 3, 3] },
  { x: [3, 4, 6, 9], w: [7, 4, 3, 3], padding: 2, bias: false },
  { x: [2, 3, 11, 13], w: [4, 3, 3, 3], padding: [0, 1] },
  { x: [2, 33, 9, 9], w: [5, 33, 3, 3], padding: [2, 1] },
  { x: [1, 6, 17, 3], w: [33, 6, 3, 3], padding: 1 },
];

test('Winograd with 2×2 and 4×4 tiles (F(m×m, 3×3) for forward and dX, F(3×3, m×m) for dW) vs the reference on odd shapes', async () => {
  for (const tile of [2, 4] as const) {
    await withWinograd({ minChannels: 1, tile }, async () => {
      // Through autograd, dW reads the forward's transformed input; called directly, it transforms x.
      for (const c of WINOGRAD_SWEEP) {
        const path = conv2dAlgorithm(ctx, c.x, c.w, { padding: c.padding ?? 0 });
        if (path.algorithm !== 'winograd' || path.tile !== tile) throw new Error(`${label(c)}: expected Winograd ${tile}, got ${JSON.stringify(path)}`);
        await checkAgainstReference(c);
      }
      const g = caseGenerator();
      const [xShape, wShape, dyShape] = [[2, 6, 7, 9], [5, 6, 3, 3], [2, 5, 7, 9]];
      const [xs, dys] = [randomArray(g, size(xShape)), randomArray(g, size(dyShape))];
      const ref = refConv2dBackward(
        { data: Float64Array.from(xs), shape: xShape },
        { data: new Float64Array(size(wShape)), shape: wShape },
        { data: Float64Array.from(dys), shape: dyShape },
        { padding: 1 },
      );
      const [x, dy] = [fromArray(xs, xShape), fromArray(dys, dyShape)];
      const dw = conv2dBackwardWeight(dy, x, wShape, { padding: 1 });
      assertClose(await dw.toArray(), ref.dw.data, tolerance(2 * 7 * 9, ref.dw.data, true), `conv2dBackwardWeight on Winograd ${tile}`);
      [x, dy, dw].forEach((t) => t.dispose());
    });
  }
});

test('Winograd matrices from Toom-Cook compute the 1-D correlation exactly (float64), and refuse repeated points', () => {
  const g = caseGenerator();
  for (const m of [2, 4] as const) {
    const { AT, G, BT } = toomCook(m, 3, WINOGRAD_POINTS[m]);
    for (let trial = 0; trial < 5; trial++) {
      const taps = [0, 1, 2].map(() => g.normal());
      const d = Array.from({ length: m + 2 }, () => g.normal());
      const Gg = G.map((row) => row.reduce((s, v, k) => s + v * taps[k]!, 0));
      const Bd = BT.map((row) => row.reduce((s, v, k) => s + v * d[k]!, 0));
      for (let i = 0; i < m; i++) {
        const y = AT[i]!.reduce((s, v, j) => s + v * Gg[j]! * Bd[j]!, 0);
        const want = taps.reduce((s, v, k) => s + v * d[i + k]!, 0);
        if (!(Math.abs(y - want) <= 1e-12 * (1 + Math.abs(want)))) throw new Error(`F(${m}, 3) output ${i}: ${y}, expected ${want}`);
      }
    }
  }
  // The textbook F(2, 3) (Lavin & Gray): Aᵀ = [1 1 1 0; 0 1 −1 −1] up to the sign of its last column.
  const { AT } = toomCook(2, 3, [0, 1, -1]);
  if (JSON.stringify(AT.map((r) => r.slice(0, 3))) !== JSON.stringify([[1, 1, 1], [0, 1, -1]])) throw new Error(`F(2, 3) Aᵀ ${JSON.stringify(AT)}`);
  assertThrows(() => toomCook(4, 3, [0, 1, 1, 2, -2]), 'winograd matrices', 'distinct');
  assertThrows(() => toomCook(4, 3, [0, 1, -1]), 'winograd matrices', 'needs 5 points');
});

test('conv2d picks Winograd for 3×3 stride-1 convolutions with enough channels, with subgroups, within the binding limit', async () => {
  const pick = (x: number[], w: number[], options: Conv2dOptions = { padding: 1 }) => conv2dAlgorithm(ctx, x, w, options);
  const expect = (what: string, got: object, want: object) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${what}: ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  };
  await onPath(true, async () => {
    expect('64 channels, 32×32', pick([32, 64, 32, 32], [64, 64, 3, 3]), { algorithm: 'winograd', tile: 4 });
    expect('512 channels, 4×4', pick([32, 512, 4, 4], [512, 512, 3, 3]), { algorithm: 'winograd', tile: 4 });
    expect('512 channels, 2×2 (3/4 of a 4×4 tile would be padding)', pick([32, 512, 2, 2], [512, 512, 3, 3]), { algorithm: 'implicit-gemm' });
    const dw = (n: number) => conv2dAlgorithm(ctx, [n, 512, 4, 4], [512, 512, 3, 3], { padding: 1 }, 'weightGrad');
    expect('dW over 32 tiles', dw(32), { algorithm: 'winograd', tile: 4 });
    expect('dW over 16 tiles (too short a reduction)', dw(16), { algorithm: 'implicit-gemm' });
    expect('dX over 16 tiles', conv2dAlgorithm(ctx, [16, 512, 4, 4], [512, 512, 3, 3], { padding: 1 }, 'inputGrad'), { algorithm: 'winograd', tile: 4 });
    expect('16 channels', pick([32, 16, 32, 32], [16, 16, 3, 3]), { algorithm: 'implicit-gemm' });
    expect('3 input channels', pick([32, 3, 32, 32], [64, 3, 3, 3]), { algorithm: 'implicit-gemm' });
    expect('stride 2', pick([32, 64, 32, 32], [128, 64, 3, 3], { stride: 2, padding: 1 }), { algorithm: 'implicit-gemm' });
    expect('1×1', pick([32, 64, 32, 32], [64, 64, 1, 1], {}), { algorithm: 'implicit-gemm' });
    expect('padding 3 (dX would need padding −1)', pick([2, 64, 8, 8], [64, 64, 3, 3], { padding: 3 }), { algorithm: 'implicit-gemm' });
    await withWinograd({ enabled: false }, async () => expect('switched off', pick([32, 64, 32, 32], [64, 64, 3, 3]), { algorithm: 'implicit-gemm' }));
  });
  await onPath(false, async () => expect('without subgroups', pick([32, 64, 32, 32], [64, 64, 3, 3]), { algorithm: 'implicit-gemm' }));
  // The transformed input (36 floats per tile and channel) must fit one binding: at 128 MiB,
  // batch 256 of 64 channels at 64×64 does not (4 × 2.25 × 256 × 64 × 64² bytes = 604 MB).
  const small = { subgroupSize: 8, limits: { maxStorageBufferBindingSize: 128 * 2 ** 20 } } as unknown as typeof ctx;
  const geometry = (n: number) => convGeometry([n, 64, 64, 64], [64, 64, 3, 3], { sh: 1, sw: 1, ph: 1, pw: 1 });
  if (!winogradApplies(small, geometry(8)) || winogradApplies(small, geometry(256))) {
    throw new Error('winogradApplies: expected batch 8 to fit a 128 MiB binding and batch 256 not to');
  }
});

// Central finite differences of Σ w·conv2d(x, W, b) in float64 on tiny shapes.
const FD_CASES: { shapes: number[][]; options: Conv2dOptions }[] = [
  { shapes: [[1, 2, 5, 5], [3, 2, 3, 3], [3]], options: { padding: 1 } },
  { shapes: [[1, 2, 6, 5], [2, 2, 3, 3], [2]], options: { stride: 2, padding: 1 } },
  { shapes: [[2, 1, 4, 4], [2, 1, 1, 1], [2]], options: { stride: 2 } },
  { shapes: [[1, 2, 5, 4], [2, 2, 3, 2], [2]], options: { stride: [2, 1], padding: [1, 0] } },
  { shapes: [[1, 1, 7, 7], [2, 1, 7, 7], [2]], options: { stride: 2, padding: 3 } },
];

test('backward matches central finite differences (both paths)', async () => {
  await bothPaths(async () => {
    for (const { shapes, options } of FD_CASES) {
      await checkOp({
        name: `conv2d ${JSON.stringify(options)}`,
        shapes,
        gpu: (x, w, b) => conv2d(x, w, b, options),
        cpu: (x, w, b) => refConv2d(x, w, b, options),
        forward: { rtol: 1e-5, atol: 1e-5 },
        backward: { rtol: 1e-4, atol: 1e-5 },
      });
    }
  });
});

test('only the inputs that require a gradient get one, and only those gradients are computed', async () => {
  const shapes = [[2, 3, 6, 6], [4, 3, 3, 3], [4]];
  for (const requiresGrad of [[true, false, false], [false, true, false], [false, false, true], [false, true, true]]) {
    await checkOp({
      name: `conv2d requiresGrad ${requiresGrad}`,
      shapes,
      gpu: (x, w, b) => conv2d(x, w, b, { padding: 1 }),
      cpu: (x, w, b) => refConv2d(x, w, b, { padding: 1 }),
      requiresGrad,
      forward: { rtol: 1e-5, atol: 1e-5 },
      backward: { rtol: 1e-4, atol: 1e-5 },
    });
  }
  // The backward of a conv whose weight needs no gradient runs fewer kernels than one where it does.
  const dispatches = async (weightGrad: boolean) => {
    const x = fromArray(new Float32Array(2 * 3 * 6 * 6).fill(0.5), [2, 3, 6, 6], { requiresGrad: true });
    const w = fromArray(new Float32Array(4 * 3 * 9).fill(0.25), [4, 3, 3, 3], { requiresGrad: weightGrad });
    const y = conv2d(x, w, null, { padding: 1 });
    const g = y.onesLike();
    await ctx.sync();
    const start = ctx.stats().dispatches;
    y.backward(g);
    const count = ctx.stats().dispatches - start;
    if (x.grad === null || (w.grad !== null) !== weightGrad) throw new Error('conv2d: gradients went to the wrong inputs');
    [x, w, y, g].forEach((t) => t.dispose());
    return count;
  };
  const onlyX = await dispatches(false);
  const both = await dispatches(true);
  if (!(onlyX < both)) throw new Error(`conv2d backward: ${onlyX} dispatches for dX alone, ${both} for dX and dW`);
});

test('dW splits its reduction when there are few output tiles, and the split result is exact', async () => {
  // conv1 of the cifar stem at batch 8: 27 × 64 outputs of dW, a reduction over 8·32·32 pixels.
  const c: Case = { x: [8, 3, 32, 32], w: [64, 3, 3, 3], padding: 1 };
  await bothPaths(async (sg) => {
    const splits = planWeightGradSplit(ctx, c.x, c.w, { padding: 1 });
    if (splits < 2) throw new Error(`expected a split-K plan for dW of ${label(c)} [${pathName(sg)}], got ${splits} split(s)`);
  });
  await checkAgainstReference(c);
});

test('row groups past the grid limit fold into z (limit lowered to 1 so small tensors fold)', async () => {
  // With one row group per launch in y, every GEMM below (forward, each dX phase, dW with a
  // split reduction) with more than one row group runs them through z: 576 and 400 forward quads
  // (N = 2: one quad per output pixel, above the largest tile of 128 quads), 108 dW quads (9
  // wide-kernel groups), on the wide, narrow and plain kernels.
  const saved = convLaunchLimits.maxGridY;
  try {
    convLaunchLimits.maxGridY = 1;
    await withWinograd({ enabled: false }, () => checkAgainstReference({ x: [2, 48, 24, 24], w: [40, 48, 3, 3], padding: 1 }));
    await checkAgainstReference({ x: [2, 8, 40, 40], w: [36, 8, 3, 3], stride: 2, padding: 1 });
    await checkAgainstReference({ x: [2, 4, 24, 24], w: [5, 4, 3, 3], padding: 1 });
  } finally {
    convLaunchLimits.maxGridY = saved;
  }
});

test('the wide kernel hands out its tiles by tickets: exact with 1, 2 and 3 workgroups per launch and one per tile, counters back at zero', async () => {
  // With few workgroups every subgroup draws many tiles (forward, the dX phases, dW with a split
  // reduction: 1×1 stride 2 reads the input directly, 3×3 goes through the quad layout); several
  // launches share one batch, so a launch that left the counters anywhere but zero would make the
  // next one skip its tiles and the results would be wrong.
  const counters = async () => [...new Uint32Array(await ctx.read(ctx.ticketCounters()))];
  const saved = ctx.concurrentWorkgroups;
  try {
    for (const groups of [1, 2, 3, 0]) {
      ctx.concurrentWorkgroups = groups;
      await checkAgainstReference({ x: [2, 16, 16, 16], w: [72, 16, 1, 1], stride: 2 });
      await withWinograd({ enabled: false }, () => checkAgainstReference({ x: [2, 8, 10, 10], w: [70, 8, 3, 3], padding: 1 }));
      // K = 1152: B is 295 KB, so bands of 2 row tiles (24 rows of 1152 floats within 256 KB), 3 row tiles in all
      await withWinograd({ enabled: false }, () => checkAgainstReference({ x: [2, 128, 6, 6], w: [64, 128, 3, 3], padding: 1 }));
      await onPath(true, async () => {
        const splits = planWeightGradSplit(ctx, [8, 3, 32, 32], [64, 3, 3, 3], { padding: 1 });
        if (splits < 2) throw new Error(`expected a split dW plan, got ${splits}`);
      });
      await checkAgainstReference({ x: [8, 3, 32, 32], w: [64, 3, 3, 3], padding: 1 });
      assert.equal(await counters(), [0, 0, 0, 0], `${groups} workgroups: counters after the launches`);
    }
  } finally {
    ctx.concurrentWorkgroups = saved;
  }
  assert.equal(await counters(), [0, 0, 0, 0]);
});

test('ticket launches: tiles in bands of row tiles per split; grids within the limits', () => {
  // B (chunk × cols floats) within 256 KB: one row tile per band (its column groups in a row);
  // else bands of row tiles whose A rows (4·6 rows of `chunk` floats each) span at most 256 KB
  assert.equal(ticketTiles(8, 6, { m: 512, cols: 128, splits: 1, chunk: 64 }), { tiles: 172, colGroups: 2, rowTiles: 86, band: 1 });
  assert.equal(ticketTiles(8, 6, { m: 1, cols: 65, splits: 3, chunk: 8 }), { tiles: 6, colGroups: 2, rowTiles: 1, band: 1 });
  assert.equal(ticketTiles(8, 6, { m: 150, cols: 512, splits: 1, chunk: 576 }), { tiles: 200, colGroups: 8, rowTiles: 25, band: 4 });
  assert.equal(ticketTiles(8, 6, { m: 60, cols: 64, splits: 2, chunk: 4096 }), { tiles: 20, colGroups: 1, rowTiles: 10, band: 1 });
  assert.equal(ticketGrid(172, 2, 0), [86, 1, 1]); // one workgroup per 2 tiles
  assert.equal(ticketGrid(172, 2, 2), [2, 1, 1]); // as many as run at once
  assert.equal(ticketGrid(3, 2, 8), [2, 1, 1]);
  assert.equal(ticketGrid(1, 2, 0), [1, 1, 1]);
  assert.equal(ticketGrid(4e9, 2, 0), [65535, 1, 1]);
});

test('kOff tables are built once per geometry and kept; results stay exact when the cache starts again', async () => {
  // A forward whose table is kept records one dispatch fewer (no offsets kernel) than one that
  // builds it (cache limit 0: every table built again), whatever earlier tests left in the cache.
  const x = fromArray(randomArray(caseGenerator(), 2 * 8 * 11 * 11), [2, 8, 11, 11]);
  const w = fromArray(randomArray(caseGenerator(), 40 * 8 * 3 * 3), [40, 8, 3, 3]);
  const dispatchesOf = () => {
    const before = ctx.stats().dispatches;
    conv2d(x, w, null, { stride: 2, padding: 1 }).dispose();
    return ctx.stats().dispatches - before;
  };
  const saved = convCacheLimits.offsetTables;
  const savedWeights = convCacheLimits.gatheredWeights;
  try {
    convCacheLimits.gatheredWeights = 0; // the weight's gather runs in every call here
    convCacheLimits.offsetTables = 0;
    const rebuilt = dispatchesOf();
    convCacheLimits.offsetTables = saved;
    dispatchesOf(); // builds and keeps the table
    const kept = dispatchesOf();
    assert.is(kept, rebuilt - 1, `dispatches of a forward that builds its table and of one that finds it kept: ${rebuilt}, ${kept}`);
  } finally {
    convCacheLimits.offsetTables = saved;
    convCacheLimits.gatheredWeights = savedWeights;
    x.dispose();
    w.dispose();
  }
  // Three geometries through a cache of two (forward, each dX phase and dW each need a table):
  // tables are dropped and rebuilt while earlier commands still read them.
  try {
    convCacheLimits.offsetTables = 2;
    for (let round = 0; round < 2; round++) {
      await withWinograd({ enabled: false }, () => checkAgainstReference({ x: [2, 8, 9, 9], w: [36, 8, 3, 3], stride: 2, padding: 1 }));
      await checkAgainstReference({ x: [2, 16, 8, 8], w: [40, 16, 1, 1], stride: 2 });
      await checkAgainstReference({ x: [2, 5, 7, 6], w: [33, 5, 2, 3], padding: [1, 0] });
    }
  } finally {
    convCacheLimits.offsetTables = saved;
  }
});

test('a weight that is not trained keeps its gathered B operand until something writes its buffer', async () => {
  // Each step runs the forward and counts its dispatches: a gather (1 dispatch) runs, or the B
  // gathered by an earlier call is used. Every result is checked against the CPU reference, so a
  // stale B fails the test whatever the counts say.
  const g = caseGenerator();
  const xShape = [2, 16, 9, 9];
  const wShape = [24, 16, 1, 1];
  const xs = randomArray(g, size(xShape));
  const x = fromArray(xs, xShape);
  const reference = (ws: Float32Array) => refConv2d({ data: Float64Array.from(xs), shape: xShape }, { data: Float64Array.from(ws), shape: wShape }, null, { stride: 2 });
  const savedWeights = convCacheLimits.gatheredWeights;
  const savedTables = convCacheLimits.offsetTables;
  const run = async (w: Tensor, ws: Float32Array, step: string): Promise<number> => {
    const before = ctx.stats().dispatches;
    const y = conv2d(x, w, null, { stride: 2 });
    const dispatches = ctx.stats().dispatches - before;
    const expected = reference(ws);
    assertClose(await y.toArray(), expected.data, tolerance(16, expected.data), `${step}: conv2d x[${xShape}] w[${wShape}] stride 2`);
    y.dispose();
    return dispatches;
  };
  try {
    convCacheLimits.offsetTables = 256;
    await bothPaths(async (sg) => {
      const path = pathName(sg);
      let ws = randomArray(g, size(wShape));
      let w = fromArray(ws, wShape);
      // A cache of 0 keeps nothing (and empties the cache): the count of a forward that gathers.
      convCacheLimits.gatheredWeights = 0;
      await run(w, ws, `${path}, cache of 0`); // builds the offset table if no earlier test did
      const gathered = await run(w, ws, `${path}, cache of 0 again`);
      assert.is(await run(w, ws, `${path}, cache of 0, third call`), gathered, `${path}: with a cache of 0 every call gathers`);
      convCacheLimits.gatheredWeights = savedWeights;
      assert.is(await run(w, ws, `${path}, first call`), gathered, `${path}: the first call gathers B and keeps it`);
      const kept = await run(w, ws, `${path}, second call`);
      assert.is(kept, gathered - 1, `${path}: dispatches of a forward that gathers and of one with the kept B: ${gathered}, ${kept}`);
      assert.is(await run(w, ws, `${path}, third call`), kept);
      // Writes by a kernel (in-place ops) and by a recorded copy: the next call gathers again; the
      // weight is kept again once a call finds it unchanged since the call before.
      const writes: [string, () => void][] = [
        ['mulInPlace', () => { const two = fromArray(new Float32Array(ws.length).fill(2), wShape); mulInPlace(w, two); two.dispose(); ws = ws.map((v) => v * 2); }],
        ['copyInPlace', () => { const next = randomArray(g, ws.length); const src = fromArray(next, wShape); copyInPlace(w, src); src.dispose(); ws = next; }],
      ];
      for (const [what, write] of writes) {
        write();
        assert.is(await run(w, ws, `${path}, after ${what}`), gathered, `${path}: a forward after ${what} gathers again`);
        assert.is(await run(w, ws, `${path}, unchanged after ${what}`), gathered, `${path}: the first call that finds it unchanged gathers and keeps it`);
        assert.is(await run(w, ws, `${path}, kept after ${what}`), kept, `${path}: later calls use it`);
      }
      // The buffer handed to a new weight (an upload): whether or not the pool gives it the old
      // weight's buffer, the results are exact and the new weight is kept by its third call.
      w.dispose();
      ws = randomArray(g, ws.length);
      w = fromArray(ws, wShape);
      assert.is(await run(w, ws, `${path}, new weight`), gathered, `${path}: a new weight is gathered`);
      await run(w, ws, `${path}, new weight, second call`);
      assert.is(await run(w, ws, `${path}, new weight, third call`), kept, `${path}: a new weight is kept by its third call`);
      // A weight written between every pair of calls is gathered per call.
      for (let i = 0; i < 3; i++) {
        const one = fromArray(new Float32Array(ws.length).fill(1), wShape);
        addScaledInPlace(w, one, 0.5);
        one.dispose();
        ws = ws.map((v) => v + 0.5);
        assert.is(await run(w, ws, `${path}, changing weight ${i}`), gathered, `${path}: a weight that changes is gathered per call`);
      }
      // A weight being trained (grad on, requiresGrad) is gathered per call and holds no kept copy:
      // its first such forward releases the one kept before.
      await run(w, ws, `${path}, before training`);
      assert.is(await run(w, ws, `${path}, kept before training`), kept);
      const inUse = () => ctx.stats().storage.bytesInUse;
      const before = inUse();
      w.requiresGrad = true;
      for (let i = 0; i < 3; i++) assert.is(await run(w, ws, `${path}, trained weight ${i}`), gathered, `${path}: a trained weight is gathered per call`);
      assert.ok(inUse() < before, `${path}: training the weight released its kept B (bytes in use ${before} → ${inUse()})`);
      w.requiresGrad = false;
      assert.is(await run(w, ws, `${path}, frozen again`), gathered, `${path}: nothing is kept for it any more`);
      assert.is(await run(w, ws, `${path}, frozen again, second call`), kept);
      w.dispose();
    });
  } finally {
    convCacheLimits.gatheredWeights = savedWeights;
    convCacheLimits.offsetTables = savedTables;
    x.dispose();
  }
});

test('launch grids respect 65535 workgroups per dimension for huge GEMMs', () => {
  // Row quads × columns per workgroup of the wide, narrow and plain kernels.
  for (const [rowsPerGroup, colsPerGroup] of [[12, 64], [128, 8], [16, 64]] as const) {
    for (const [m, cols, splits] of [[1, 1, 1], [65535 * rowsPerGroup, 64, 1], [65535 * rowsPerGroup + 1, 512, 3], [4e9, 8, 2]]) {
      const [x, y, z] = igemmDispatch(rowsPerGroup, colsPerGroup)({ m, cols, splits });
      const rowGroups = Math.ceil(m / rowsPerGroup);
      const ok = [x, y, z].every((d) => Number.isInteger(d) && d >= 1 && d <= 65535) && y * (z / splits) >= rowGroups && z % splits === 0;
      if (!ok) throw new Error(`igemmDispatch(${rowsPerGroup}, ${colsPerGroup}) for m ${m}, cols ${cols}, splits ${splits}: grid [${x}, ${y}, ${z}]`);
    }
  }
});

test('conv2dBackwardInput / conv2dBackwardWeight called directly match the reference', async () => {
  const g = caseGenerator();
  const xShape = [2, 5, 9, 7];
  const wShape = [6, 5, 3, 3];
  const options: Conv2dOptions = { stride: 2, padding: 1 };
  const ys = [2, 6, 5, 4];
  const xs = randomArray(g, size(xShape));
  const ws = randomArray(g, size(wShape));
  const dys = randomArray(g, size(ys));
  const ref = refConv2dBackward(
    { data: Float64Array.from(xs), shape: xShape },
    { data: Float64Array.from(ws), shape: wShape },
    { data: Float64Array.from(dys), shape: ys },
    options,
  );
  const x = fromArray(xs, xShape);
  const w = fromArray(ws, wShape);
  const dy = fromArray(dys, ys);
  const dx = conv2dBackwardInput(dy, w, xShape, options);
  const dw = conv2dBackwardWeight(dy, x, wShape, options);
  assertClose(await dx.toArray(), ref.dx.data, tolerance(6 * 9, ref.dx.data), 'conv2dBackwardInput');
  assertClose(await dw.toArray(), ref.dw.data, tolerance(2 * 5 * 4, ref.dw.data), 'conv2dBackwardWeight');
  [x, w, dy, dx, dw].forEach((t) => t.dispose());
});

test('bad inputs throw errors that name the op and the shapes', () => {
  const x = fromArray(new Float32Array(2 * 3 * 5 * 5), [2, 3, 5, 5]);
  const w = fromArray(new Float32Array(4 * 3 * 3 * 3), [4, 3, 3, 3]);
  const x3 = fromArray(new Float32Array(2 * 3 * 5), [2, 3, 5]);
  const w2 = fromArray(new Float32Array(4 * 2 * 3 * 3), [4, 2, 3, 3]);
  const big = fromArray(new Float32Array(1 * 3 * 7 * 7), [1, 3, 7, 7]);
  const b3 = fromArray(new Float32Array(3), [3]);
  const dead = fromArray(new Float32Array(4 * 3 * 3 * 3), [4, 3, 3, 3]);
  dead.dispose();
  try {
    assertThrows(() => conv2d(x3, w), 'conv2d', '[N, C, H, W]', '[2, 3, 5]');
    assertThrows(() => conv2d(x, x3), 'conv2d', '[O, C, kh, kw]', '[2, 3, 5]');
    assertThrows(() => conv2d(x, w2), 'conv2d', '3 channels', '[4, 2, 3, 3]');
    assertThrows(() => conv2d(x, big), 'conv2d', 'larger than the padded input', '[1, 3, 7, 7]', '[2, 3, 5, 5]');
    assertThrows(() => conv2d(x, w, b3), 'conv2d', 'bias must be [4]', '[3]');
    assertThrows(() => conv2d(x, w, null, { stride: 0 }), 'conv2d', 'stride');
    assertThrows(() => conv2d(x, w, null, { padding: -1 }), 'conv2d', 'padding');
    assertThrows(() => conv2d(x, w, null, { stride: 1.5 }), 'conv2d', 'stride');
    assertThrows(() => conv2d(x, dead), 'conv2d', 'dispose');
    assertThrows(() => conv2dBackwardInput(x, w, [2, 3, 5, 5]), 'conv2dBackwardInput', '[2, 3, 5, 5]', '[2, 4, 3, 3]');
    assertThrows(() => conv2dBackwardWeight(x, x, [4, 3, 3, 3]), 'conv2dBackwardWeight', '[2, 3, 5, 5]', '[2, 4, 3, 3]');
  } finally {
    [x, w, x3, w2, big, b3].forEach((t) => t.dispose());
  }
});

test.run();
