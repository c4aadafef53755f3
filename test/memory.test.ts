// Memory stays flat: a training loop of a small MLP (forward, backward, parameter update), 200
// iterations, leaves memory() exactly as it was after the first iteration.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { addScaledInPlace, fromArray, memory, randn, scope, Generator } from '../lib/index';
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

test.run();
