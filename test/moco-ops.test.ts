// MoCo's dedicated kernels vs the float64 reference: logits [l_pos | l_neg]/τ and their gradient to
// q, the momentum update over a flat parameter buffer, and the ring-buffer enqueue.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fromArray, Module, zeros, type Parameter } from '../lib/index';
import { enqueue, momentumUpdate, mocoLogits } from '../moco/ops';
import { refEnqueue, refMocoLogits, refMocoLogitsGrad, refMomentumUpdate } from '../moco/reference';
import { assertClose, assertThrows } from './helpers/assert';
import { caseGenerator, checkOp, randomArray } from './helpers/check';
import './helpers/gpu';

test('logits forward and gradient to q (N, K, dim of odd sizes; τ 0.2 and 0.05)', async () => {
  const cases: [number, number, number, number][] = [
    // N, K, dim, τ
    [1, 1, 1, 0.2],
    [2, 8, 5, 0.2],
    [3, 13, 25, 0.05],
    [5, 9, 7, 0.07],
  ];
  for (const [n, k, dim, tau] of cases) {
    await checkOp({
      name: `mocoLogits N=${n} K=${k} dim=${dim}`,
      shapes: [[n, dim], [n, dim], [k, dim]],
      requiresGrad: [true, false, false],
      gpu: (q, keys, queue) => mocoLogits(q!, keys!, queue!, tau),
      cpu: (q, keys, queue) => ({ data: refMocoLogits(q!.data, keys!.data, queue!.data, n, dim, tau), shape: [n, 1 + k] }),
      // A float32 dot of dim products of N(0,1) values errs by about √dim·ε·Σ|q·k| ≈ dim^1.5·6e-8,
      // then divided by τ; a logit that cancels to near 0 has no relative accuracy left (seed 2718:
      // 3.5e-5 off at dim 25, τ 0.05), so the absolute tolerance is 4× that estimate.
      forward: { rtol: 1e-5, atol: Math.max(1e-5, (4 * 6e-8 * dim ** 1.5) / tau) },
      backward: { rtol: 1e-3, atol: 1e-3 },
    });
  }
});

test('logits at MoCo sizes (N 32, K 4100, dim 128; split-K gradient) vs the analytic reference', async () => {
  const [n, k, dim, tau] = [32, 4100, 128, 0.2];
  const g = caseGenerator();
  const [qh, kh, queueh, gh] = [randomArray(g, n * dim), randomArray(g, n * dim), randomArray(g, k * dim), randomArray(g, n * (1 + k))];
  const q = fromArray(qh, [n, dim], { requiresGrad: true });
  const keys = fromArray(kh, [n, dim]);
  const queue = fromArray(queueh, [k, dim]);
  const grad = fromArray(gh, [n, 1 + k]);
  const logits = mocoLogits(q, keys, queue, tau);
  assertClose(await logits.toArray(), refMocoLogits(qh, kh, queueh, n, dim, tau), { rtol: 1e-4, atol: 1e-4 }, 'logits');
  logits.backward(grad);
  // Each dq element sums 4101 products of N(0,1) values (~64 in size) divided by τ.
  assertClose(await q.grad!.toArray(), refMocoLogitsGrad(gh, kh, queueh, n, dim, tau), { rtol: 1e-4, atol: 2e-3 }, 'dq');
  [q, keys, queue, grad, logits].forEach((t) => t.dispose());
});

test('momentum update over the flat buffer: θk ← m·θk + (1 − m)·θq', async () => {
  class Two extends Module {
    constructor(a: Float32Array, b: Float32Array) {
      super();
      this.registerParameter('a', fromArray(a, [a.length]));
      this.registerParameter('b', fromArray(b, [b.length]));
    }
  }
  const g = caseGenerator();
  const init = [randomArray(g, 7), randomArray(g, 130)];
  const other = [randomArray(g, 7), randomArray(g, 130)];
  const key = new Two(init[0]!, init[1]!);
  const query = new Two(other[0]!, other[1]!);
  const kf = key.flatten();
  const qf = query.flatten();
  for (const m of [0.99, 0.5]) momentumUpdate(kf, qf, m);
  const expected = init.map((v) => Float64Array.from(v));
  for (const m of [0.99, 0.5]) expected.forEach((e, i) => refMomentumUpdate(e, other[i]!, m));
  const ps = key.parameters() as Parameter[];
  for (let i = 0; i < 2; i++) assertClose(await ps[i]!.toArray(), expected[i]!, { rtol: 1e-6, atol: 1e-7 }, `param ${i}`);
  key.dispose();
  query.dispose();
});

test('enqueue writes rows at the pointer, wraps around, and checks K % N', async () => {
  const g = caseGenerator();
  const kLen = 12;
  const dim = 5;
  const queue = zeros([kLen, dim]);
  const expected = new Float64Array(kLen * dim);
  let ptr = 0;
  let refPtr = 0;
  for (let step = 0; step < 5; step++) {
    const keys = randomArray(g, 4 * dim);
    const kt = fromArray(keys, [4, dim]);
    ptr = enqueue(queue, kt, ptr);
    refPtr = refEnqueue(expected, keys, dim, refPtr);
    kt.dispose();
  }
  assert.is(ptr, refPtr);
  assert.is(ptr, 8);
  assertClose(await queue.toArray(), expected, { rtol: 0, atol: 0 }, 'queue');
  const five = zeros([5, dim]);
  assertThrows(() => enqueue(queue, five, 0), 'enqueue', '12', 'multiple of the batch size 5');
  five.dispose();
  queue.dispose();
});

test.run();
