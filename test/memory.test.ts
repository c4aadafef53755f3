// Memory stays flat: a training loop of a small MLP (forward, backward, parameter update), 200
// iterations, leaves memory() exactly as it was after the first iteration; so do 50 SGD steps of
// ResNet-18 (BatchNorm, the flat parameter buffer, momentum) after its second, which also fit
// their random batch.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addScaledInPlace, fromArray, memory, randn, resnet18, scope, Generator, SGD } from '../lib/index';
import { ctx } from './helpers/gpu';

test('200 iterations of forward + backward + update leave memory() unchanged after the first', async () => {
  const g = new Generator(1);
  const x = randn([8, 5], { generator: g });
  const labels = [0, 1, 2, 0, 1, 2, 0, 1];
  const w1 = randn([5, 16], { generator: g, std: 0.5, requiresGrad: true });
  const w2 = randn([16, 3], { generator: g, std: 0.5, requiresGrad: true });
  const b1 = fromArray(new Float32Array(16), [16], { requiresGrad: true });
  const losses: number[] = [];
  let afterFirst = memory();
  for (let i = 0; i < 200; i++) {
    const loss = scope(() => {
      const h = x.matmul(w1).add(b1).relu();
      const l = h.matmul(w2).crossEntropy(labels);
      l.backward();
      return l;
    });
    if (i % 50 === 0) losses.push(await loss.item());
    loss.dispose();
    for (const p of [w1, w2, b1]) {
      addScaledInPlace(p, p.grad!, -0.1);
      p.zeroGrad();
    }
    await ctx.sync();
    if (i === 0) afterFirst = memory();
    else assert.equal(memory(), afterFirst, `memory() changed at iteration ${i}`);
  }
  assert.ok(losses[losses.length - 1]! < losses[0]!, `the loss went down (${losses.join(' → ')})`);
  [x, w1, w2, b1].forEach((t) => t.dispose());
});

test('ResNet-18: 50 SGD steps on a random batch lower the loss and leave memory() as after the second', async () => {
  const g = new Generator(2);
  const model = resnet18({ numClasses: 10, stem: 'cifar', generator: g });
  const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-4 });
  const x = randn([4, 3, 16, 16], { generator: g });
  const labels = [1, 5, 3, 7];
  model.train();
  const losses: number[] = [];
  let afterFirst = memory();
  for (let step = 0; step < 50; step++) {
    const loss = scope(() => {
      opt.zeroGrad();
      const l = model.forward(x).crossEntropy(labels);
      l.backward();
      opt.step();
      return l;
    });
    losses.push(await loss.item());
    loss.dispose();
    await ctx.sync();
    // Step 0 creates the gradients and the optimizer state; step 1 (which finds gradients to zero)
    // frees and takes buffers in another order, so the pool adds 8 small buffers (22 KB, measured).
    // From then on every step must find what it needs in the pool.
    if (step === 1) afterFirst = memory();
    else if (step > 1) assert.equal(memory(), afterFirst, `memory() changed at step ${step}`);
  }
  const first = losses[0]!;
  const last = Math.min(...losses.slice(-5));
  assert.ok(losses.every(Number.isFinite), `a loss is not finite: ${losses.join(' ')}`);
  // ln 10 ≈ 2.3 at the start; 4 images with fixed labels are fitted within a few dozen steps.
  assert.ok(last < 0.25 * first, `the loss went from ${first} to ${last} (${losses.map((l) => l.toFixed(3)).join(' ')})`);
  x.dispose();
  opt.dispose();
  model.dispose();
});

test.run();
