// Tensor constructors (lib/ops/creation.ts): constants of every size class (empty, scalar, not a
// multiple of 4, large), arange's element count and values (torch.arange semantics), and seeded
// random tensors: exactly the generator's numbers, the same for the same seed, in range, with the
// right mean and spread.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { arange, full, Generator, ones, rand, randn, zeros, type Tensor } from '../lib/index';
import { seed } from './helpers/gpu';

async function values(t: Tensor): Promise<number[]> {
  const v = [...(await t.toArray())];
  t.dispose();
  return v;
}

test('zeros, ones and full fill every element, whatever the size', async () => {
  for (const shape of [[], [0], [1], [7], [3, 5], [2, 1025], [4, 3, 17, 9]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    for (const [name, make, expected] of [
      ['zeros', () => zeros(shape), 0],
      ['ones', () => ones(shape), 1],
      ['full -2.5', () => full(shape, -2.5), -2.5],
      ['full 1e30', () => full(shape, 1e30), Math.fround(1e30)],
      ['full -0', () => full(shape, -0), 0],
    ] as const) {
      const t = make();
      assert.equal(t.shape, shape, `${name} [${shape}]: shape`);
      const v = await values(t);
      assert.is(v.length, n, `${name} [${shape}]: element count`);
      const bad = v.findIndex((x) => x !== expected);
      if (bad >= 0) throw new Error(`${name} [${shape}]: element ${bad} is ${v[bad]}, expected ${expected}`);
    }
  }
  // Filling reuses pooled buffers: a full() after a tensor with other contents was freed is still exact.
  await values(full([1000], 7));
  assert.ok((await values(zeros([1000]))).every((x) => x === 0));
});

test('arange: element count ceil((end − start)/step) and start + i·step, like torch.arange', async () => {
  const cases: [number, number | undefined, number | undefined, number[]][] = [
    [5, undefined, undefined, [0, 1, 2, 3, 4]],
    [1, 2, 0.25, [1, 1.25, 1.5, 1.75]],
    [5, 0, -2, [5, 3, 1]],
    [0, 1, 0.3, [0, 0.3, 0.6, 0.9]],
    [3, 3, 1, []],
    [3, 1, 1, []],
    [-2, 2, 1.5, [-2, -0.5, 1]],
  ];
  for (const [start, end, step, expected] of cases) {
    const v = await values(arange(start, end, step));
    assert.equal(v, expected.map(Math.fround), `arange(${start}, ${end}, ${step})`);
  }
});

test('rand and randn: exactly the seeded generator draws, reproducible, in range, right moments', async () => {
  const n = 100_003;
  const u = await values(rand([n], { generator: new Generator(seed), low: -3, high: 5 }));
  const g = new Generator(seed);
  const bad = u.findIndex((x) => x !== Math.fround(g.uniformRange(-3, 5)));
  if (bad >= 0) throw new Error(`rand (seed ${seed}): element ${bad} differs from the generator's draw`);
  assert.ok(u.every((x) => x >= -3 && x < 5), 'rand: a value outside [-3, 5)');
  const again = await values(rand([n], { generator: new Generator(seed), low: -3, high: 5 }));
  assert.ok(again.every((x, i) => x === u[i]), 'rand: the same seed gave other values');
  const other = await values(rand([n], { generator: new Generator(seed + 1), low: -3, high: 5 }));
  assert.ok(other.filter((x, i) => x === u[i]).length < 10, 'rand: another seed gave the same values');
  // Mean of U[-3, 5): 1, standard error 8/√12/√n ≈ 0.0073; 6 standard errors.
  const mean = u.reduce((a, b) => a + b, 0) / n;
  assert.ok(Math.abs(mean - 1) < 0.044, `rand: mean ${mean}, expected 1 (seed ${seed})`);

  const z = await values(randn([n], { generator: new Generator(seed), mean: 2, std: 0.5 }));
  const h = new Generator(seed);
  const badN = z.findIndex((x) => x !== Math.fround(2 + 0.5 * h.normal()));
  if (badN >= 0) throw new Error(`randn (seed ${seed}): element ${badN} differs from the generator's draw`);
  const zMean = z.reduce((a, b) => a + b, 0) / n;
  const zStd = Math.sqrt(z.reduce((a, b) => a + (b - zMean) ** 2, 0) / (n - 1));
  // Standard errors: mean 0.5/√n ≈ 0.0016, std 0.5/√(2n) ≈ 0.0011; 6 of each.
  assert.ok(Math.abs(zMean - 2) < 0.0095, `randn: mean ${zMean}, expected 2 (seed ${seed})`);
  assert.ok(Math.abs(zStd - 0.5) < 0.0068, `randn: std ${zStd}, expected 0.5 (seed ${seed})`);
  const tail = z.filter((x) => Math.abs(x - 2) > 1).length / n; // P(|N(0,1)| > 2) = 0.0455
  assert.ok(Math.abs(tail - 0.0455) < 0.004, `randn: ${tail} of the values beyond 2σ, expected 0.0455 (seed ${seed})`);
  const t = randn([2, 3], { requiresGrad: true });
  assert.ok(t.requiresGrad, 'randn: requiresGrad option');
  t.dispose();
});

test.run();
