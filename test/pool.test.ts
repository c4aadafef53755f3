// maxPool2d and globalAvgPool2d against the float64 CPU reference: forward on odd and even sizes,
// backward by central finite differences on small shapes and against the analytic backward
// (saved indices) on larger ones, ties and overlapping windows, and bad input.
import { test } from 'uvu';
import { fromArray, liveTensorCount } from '../lib/index';
import {
  refGlobalAvgPool2d,
  refGlobalAvgPool2dBackward,
  refMaxPool2d,
  refMaxPool2dBackward,
  type RefArray,
  type RefMaxPoolOptions,
} from '../lib/cpu/index';
import { globalAvgPool2d, maxPool2d, type MaxPoolOptions } from '../lib/ops/pool';
import { assertClose, assertThrows } from './helpers/assert';
import { caseGenerator, checkOp, randomArray } from './helpers/check';
import './helpers/gpu';

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const refOf = (a: Float32Array, shape: readonly number[]): RefArray => ({ data: Float64Array.from(a), shape: [...shape] });
const EXACT = { rtol: 0, atol: 0 };

interface PoolCase {
  shape: number[];
  options: MaxPoolOptions & RefMaxPoolOptions;
}

// ResNet's 3×3/2/1 and the classic 2×2/2/0, on odd and even sizes (floor output size), a 1×1
// image, overlapping windows (3×3/1/1: 9 backward classes; 2×2/1: 4), non-square
// kernel/stride/padding, no overlap (3×3/3) and gaps between windows (2×2/3).
const MAX_CASES: PoolCase[] = [
  { shape: [2, 3, 7, 7], options: { kernel: 3, stride: 2, padding: 1 } },
  { shape: [1, 17, 32, 32], options: { kernel: 3, stride: 2, padding: 1 } },
  { shape: [6, 1, 9, 5], options: { kernel: 3, stride: 2, padding: 1 } },
  { shape: [1, 1, 1, 1], options: { kernel: 3, stride: 2, padding: 1 } },
  { shape: [2, 3, 8, 8], options: { kernel: 2 } },
  { shape: [1, 3, 9, 5], options: { kernel: 2, stride: 2, padding: 0 } },
  { shape: [6, 64, 7, 7], options: { kernel: 2 } },
  { shape: [2, 3, 6, 5], options: { kernel: 3, stride: 1, padding: 1 } },
  { shape: [1, 2, 7, 9], options: { kernel: [2, 3], stride: [1, 2], padding: [1, 0] } },
  { shape: [2, 2, 8, 7], options: { kernel: 3, stride: 3, padding: 1 } },
  { shape: [1, 3, 5, 6], options: { kernel: 2, stride: 1 } },
  { shape: [1, 2, 8, 8], options: { kernel: 2, stride: 3 } },
  // 4,480 planes: more than the 64 workgroups × 64 lanes of one sweep of the grid-stride loops.
  { shape: [70, 64, 3, 3], options: { kernel: 3, stride: 2, padding: 1 } },
];

function label(c: PoolCase): string {
  return `maxPool2d [${c.shape}] ${JSON.stringify(c.options)}`;
}

test('maxPool2d forward matches the reference exactly (values and saved indices via the backward)', async () => {
  const before = liveTensorCount();
  for (const c of MAX_CASES) {
    const g = caseGenerator();
    const host = randomArray(g, size(c.shape));
    const x = fromArray(host, c.shape);
    const y = maxPool2d(x, c.options);
    const ref = refMaxPool2d(refOf(host, c.shape), c.options);
    if (y.shape.join() !== ref.y.shape.join()) throw new Error(`${label(c)}: shape [${y.shape}], expected [${ref.y.shape}]`);
    assertClose(await y.toArray(), ref.y.data, EXACT, `${label(c)} forward`);
    x.dispose();
    y.dispose();
  }
  if (liveTensorCount() !== before) throw new Error('tensors were left alive');
});

test('maxPool2d backward vs central finite differences (small shapes)', async () => {
  for (const c of [MAX_CASES[0]!, MAX_CASES[3]!, MAX_CASES[5]!, MAX_CASES[7]!, MAX_CASES[8]!]) {
    // Distinct values at least 0.008 apart (a shuffled ramp plus jitter), so no difference step
    // of 1e-5 crosses a tie: the max is then locally linear and the differences are exact.
    const g = caseGenerator();
    const perm = g.permutation(size(c.shape));
    const values = Float32Array.from(perm, (p) => (p - perm.length / 2) * 0.01 + 0.002 * g.uniform());
    let next = 0;
    await checkOp({
      name: label(c),
      shapes: [c.shape],
      draw: () => values[next++]!,
      gpu: (x) => maxPool2d(x, c.options),
      cpu: (x) => refMaxPool2d(x, c.options).y,
      forward: EXACT,
      backward: { rtol: 1e-6, atol: 1e-6 },
    });
  }
});

/** GPU backward of maxPool2d with output gradient gy vs the reference scatter of the saved indices. */
async function checkMaxBackward(c: PoolCase, host: Float32Array, what: string): Promise<void> {
  const g = caseGenerator();
  const x = fromArray(host, c.shape, { requiresGrad: true });
  const y = maxPool2d(x, c.options);
  const ref = refMaxPool2d(refOf(host, c.shape), c.options);
  assertClose(await y.toArray(), ref.y.data, EXACT, `${label(c)} ${what} forward`);
  const gyHost = randomArray(g, y.size);
  const gy = fromArray(gyHost, y.shape);
  y.backward(gy);
  const expected = refMaxPool2dBackward(refOf(gyHost, y.shape), ref.indices, c.shape);
  // A sum of at most ⌈k/s⌉² float32 gradients, in a different order than float64.
  assertClose(await x.grad!.toArray(), expected.data, { rtol: 1e-6, atol: 1e-6 }, `${label(c)} ${what} backward`);
  [x, y, gy].forEach((t) => t.dispose());
}

test('maxPool2d backward vs the analytic backward (all sizes)', async () => {
  for (const c of MAX_CASES) await checkMaxBackward(c, randomArray(caseGenerator(), size(c.shape)), 'random');
});

test('maxPool2d ties: the first maximum of each window wins; overlapping windows add up', async () => {
  for (const c of MAX_CASES) {
    const g = caseGenerator();
    // Values from {0, 1, 2}: most windows hold ties, and with stride < kernel several outputs pick
    // the same input, whose gradient is then the sum of theirs.
    await checkMaxBackward(c, randomArray(g, size(c.shape), (r) => r.int(3)), 'ties');
    // A constant image: every window's first (top-left) in-image element wins; also when that
    // constant is −inf (no element beats the initial −inf, yet the first real one is the index).
    await checkMaxBackward(c, new Float32Array(size(c.shape)).fill(-1.5), 'constant');
    await checkMaxBackward(c, new Float32Array(size(c.shape)).fill(-Infinity), 'all −inf');
  }
  // Hand-checkable: 3×3/1/1 over a 3×3 plane whose maximum is in the centre: all 9 outputs pick
  // it, so its gradient is the sum of all 9 output gradients and every other gradient is 0.
  const g = caseGenerator();
  const plane = randomArray(g, 9, (r) => r.uniformRange(-1, 0));
  plane[4] = 1;
  const gyHost = randomArray(g, 9);
  const x = fromArray(plane, [1, 1, 3, 3], { requiresGrad: true });
  const y = maxPool2d(x, { kernel: 3, stride: 1, padding: 1 });
  const gy = fromArray(gyHost, [1, 1, 3, 3]);
  y.backward(gy);
  const expected = Array.from(plane, (_, i) => (i === 4 ? gyHost.reduce((a, b) => a + b, 0) : 0));
  assertClose(await y.toArray(), new Array(9).fill(1), EXACT, 'centre maximum forward');
  assertClose(await x.grad!.toArray(), expected, { rtol: 1e-6, atol: 1e-6 }, 'centre maximum backward');
  [x, y, gy].forEach((t) => t.dispose());
});

// Row lengths H·W: 1, 2, 4 (one vec4), 45 and 49 (odd: scalar kernel), 16 and 1024 (vec4 kernel).
const AVG_SHAPES = [
  [2, 3, 1, 1],
  [1, 17, 2, 2],
  [6, 64, 7, 7],
  [2, 3, 9, 5],
  [2, 17, 4, 4],
  [1, 3, 32, 32],
  [70, 64, 1, 2], // 4,480 rows: more than one sweep of the grid-stride loop
];

test('globalAvgPool2d forward and backward vs finite differences', async () => {
  for (const shape of AVG_SHAPES) {
    const hw = shape[2]! * shape[3]!;
    const small = size(shape) <= 400;
    await checkOp({
      name: `globalAvgPool2d [${shape}]`,
      shapes: [shape],
      gpu: (x) => globalAvgPool2d(x),
      cpu: (x) => refGlobalAvgPool2d(x),
      // A float32 sum of H·W values: error ~ √(H·W)·ε relative to the magnitudes summed.
      forward: { rtol: 1e-5, atol: 1e-6 * Math.sqrt(hw) },
      backward: small ? { rtol: 1e-5, atol: 1e-7 } : false,
    });
  }
});

test('globalAvgPool2d backward vs the analytic backward', async () => {
  for (const shape of AVG_SHAPES) {
    const g = caseGenerator();
    const x = fromArray(randomArray(g, size(shape)), shape, { requiresGrad: true });
    const y = globalAvgPool2d(x);
    const gyHost = randomArray(g, y.size);
    const gy = fromArray(gyHost, y.shape);
    y.backward(gy);
    const expected = refGlobalAvgPool2dBackward(refOf(gyHost, y.shape), shape);
    // One float32 product g·(1/(H·W)).
    assertClose(await x.grad!.toArray(), expected.data, { rtol: 2e-7, atol: 0 }, `globalAvgPool2d [${shape}] backward`);
    [x, y, gy].forEach((t) => t.dispose());
  }
});

test('pooling refuses bad input with errors naming the op and the shapes', () => {
  const x = fromArray(new Float32Array(2 * 3 * 5 * 5), [2, 3, 5, 5]);
  const x3 = x.reshape([6, 5, 5]);
  assertThrows(() => maxPool2d(x3, { kernel: 2 }), 'maxPool2d', '[6, 5, 5]', 'rank 4');
  assertThrows(() => globalAvgPool2d(x3), 'globalAvgPool2d', '[6, 5, 5]', 'rank 4');
  assertThrows(() => maxPool2d(x, { kernel: 3, padding: 2 }), 'maxPool2d', 'padding', 'half');
  assertThrows(() => maxPool2d(x, { kernel: 7 }), 'maxPool2d', '[7, 7]', '[2, 3, 5, 5]');
  assertThrows(() => maxPool2d(x, { kernel: 0 }), 'maxPool2d', 'kernel');
  assertThrows(() => maxPool2d(x, { kernel: 2, stride: 1.5 }), 'maxPool2d', 'stride');
  assertThrows(() => maxPool2d(x, { kernel: [2, 2, 2] as unknown as [number, number] }), 'maxPool2d', 'kernel');
  x3.dispose();
  x.dispose();
});

test.run();
