import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, flatten, liveTensorCount, resnet18, type Tensor } from '../lib/index';
import { extractFeatures, type FeatureEncoder } from '../moco/eval/features';
import { NonFiniteFeaturesError } from '../moco/eval/knn';
import { defaultMilestones, linearEval, linearProbe, selectImages, stratifiedSubset, type LinearProbeOptions } from '../moco/eval/linear';
import { assertClose, assertRejects, assertThrows } from './helpers/assert';
import { caseGenerator } from './helpers/check';
import { bothPaths } from './helpers/gpu';

// ---- stratified label subset

function countsByClass(labels: ArrayLike<number>, indices: ArrayLike<number>): Map<number, number> {
  const m = new Map<number, number>();
  for (let j = 0; j < indices.length; j++) m.set(labels[indices[j]!]!, (m.get(labels[indices[j]!]!) ?? 0) + 1);
  return m;
}

test('stratifiedSubset: exact counts per class, sorted distinct indices, seeded, nested across fractions', () => {
  const g = caseGenerator();
  // uneven classes, including one with a single sample and a class index with no samples (3)
  const sizes = new Map([[0, 947], [1, 11], [2, 1], [4, 95], [5, 300]]);
  const labels: number[] = [];
  for (const [c, n] of sizes) for (let i = 0; i < n; i++) labels.push(c);
  for (let i = labels.length - 1; i > 0; i--) {
    const j = g.int(i + 1);
    [labels[i], labels[j]] = [labels[j]!, labels[i]!];
  }
  const seed = g.nextU32();
  for (const fraction of [0.01, 0.1, 0.25, 0.5, 1]) {
    const subset = stratifiedSubset(labels, fraction, seed);
    const counts = countsByClass(labels, subset);
    for (const [c, n] of sizes) {
      const want = Math.min(n, Math.max(1, Math.round(fraction * n)));
      assert.is(counts.get(c), want, `class ${c} (${n} samples) at fraction ${fraction}`);
    }
    assert.ok(!counts.has(3));
    for (let j = 1; j < subset.length; j++) assert.ok(subset[j - 1]! < subset[j]!, 'sorted and distinct');
    assert.ok(subset[0]! >= 0 && subset[subset.length - 1]! < labels.length);
    assert.equal(Array.from(stratifiedSubset(labels, fraction, seed)), Array.from(subset), 'same seed, same subset');
  }
  assert.is(stratifiedSubset(labels, 1, seed).length, labels.length);
  const a = stratifiedSubset(labels, 0.1, seed);
  const b = stratifiedSubset(labels, 0.1, seed + 1);
  assert.not.equal(Array.from(a), Array.from(b), 'another seed picks other samples');
  const bigger = new Set(stratifiedSubset(labels, 0.3, seed));
  assert.ok(Array.from(a).every((i) => bigger.has(i)), 'the 10% subset is inside the 30% subset');
  assertThrows(() => stratifiedSubset(labels, 0), 'stratifiedSubset', 'fraction');
  assertThrows(() => stratifiedSubset(labels, 1.5), 'stratifiedSubset', 'fraction');
  assertThrows(() => stratifiedSubset([0, -1], 0.5), 'stratifiedSubset', 'label -1');
});

test('selectImages copies the chosen images and labels', () => {
  const size = 2;
  const per = size * size * 3;
  const set = { images: Uint8Array.from({ length: 4 * per }, (_, i) => i), labels: Int32Array.of(7, 8, 9, 6), count: 4, size };
  const s = selectImages(set, [3, 1]);
  assert.is(s.count, 2);
  assert.equal(Array.from(s.labels), [6, 8]);
  assert.equal(Array.from(s.images), [...Array.from(set.images.subarray(3 * per, 4 * per)), ...Array.from(set.images.subarray(per, 2 * per))]);
  assertThrows(() => selectImages(set, [4]), 'selectImages', 'index 4');
});

// ---- the probe's training against a float64 CPU re-implementation of the same recipe

interface RefResult {
  weight: Float64Array;
  bias: Float64Array;
  losses: number[];
  lrs: number[];
}

/**
 * Softmax cross-entropy (mean over the batch) + torch SGD (momentum, weight decay), lr per epoch
 * from the milestones, same Generator use as linearProbe: the initial weights (initStd·normal,
 * row-major) first, then one permutation of the samples per epoch.
 */
type Recipe = Required<
  Pick<LinearProbeOptions, 'lr' | 'momentum' | 'weightDecay' | 'batchSize' | 'epochs' | 'milestones' | 'gamma' | 'initStd' | 'seed'>
>;

function referenceProbe(x: Float32Array, labels: Int32Array, dim: number, classes: number, o: Recipe): RefResult {
  const n = labels.length;
  const g = new Generator(o.seed);
  const w = Float64Array.from({ length: classes * dim }, () => Math.fround(o.initStd * g.normal()));
  const b = new Float64Array(classes);
  const bufW = new Float64Array(w.length);
  const bufB = new Float64Array(classes);
  let first = true;
  const losses: number[] = [];
  const lrs: number[] = [];
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    const lr = o.lr * o.gamma ** o.milestones.filter((m) => epoch >= m).length;
    lrs.push(lr);
    const order = g.permutation(n);
    let lossSum = 0;
    for (let start = 0; start < n; start += o.batchSize) {
      const idx = order.subarray(start, Math.min(n, start + o.batchSize));
      const gw = new Float64Array(w.length);
      const gb = new Float64Array(classes);
      for (const i of idx) {
        const logits = Array.from({ length: classes }, (_, c) => {
          let s = b[c]!;
          for (let d = 0; d < dim; d++) s += w[c * dim + d]! * x[i * dim + d]!;
          return s;
        });
        const m = Math.max(...logits);
        const lse = m + Math.log(logits.reduce((acc, v) => acc + Math.exp(v - m), 0));
        lossSum += lse - logits[labels[i]!]!;
        for (let c = 0; c < classes; c++) {
          const dl = (Math.exp(logits[c]! - lse) - (c === labels[i] ? 1 : 0)) / idx.length;
          gb[c] += dl;
          for (let d = 0; d < dim; d++) gw[c * dim + d] += dl * x[i * dim + d]!;
        }
      }
      const update = (p: Float64Array, grad: Float64Array, buf: Float64Array) => {
        for (let j = 0; j < p.length; j++) {
          const gj = grad[j]! + o.weightDecay * p[j]!;
          buf[j] = first ? gj : o.momentum * buf[j]! + gj;
          p[j] -= lr * buf[j]!;
        }
      };
      update(w, gw, bufW);
      update(b, gb, bufB);
      first = false;
    }
    losses.push(lossSum / n);
  }
  return { weight: w, bias: b, losses, lrs };
}

function gaussian(g: Generator, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => g.normal());
}

test('linearProbe follows the recipe: same weights, losses and per-epoch lr as a float64 re-implementation (subgroup and fallback kernels)', async () => {
  await bothPaths(recipeCase);
});

async function recipeCase(): Promise<void> {
  const g = caseGenerator();
  const [n, dim, classes] = [37, 7, 3];
  const x = gaussian(g, n * dim);
  const labels = Int32Array.from({ length: n }, () => g.int(classes));
  const val = { features: gaussian(g, 11 * dim), labels: Int32Array.from({ length: 11 }, () => g.int(classes)) };
  const o = { lr: 0.5, momentum: 0.9, weightDecay: 1e-3, batchSize: 8, epochs: 6, milestones: [2, 4], gamma: 0.1, initStd: 0.3, seed: g.nextU32() };
  const before = liveTensorCount();
  const seen: number[] = [];
  const got = await linearProbe({ features: x, labels }, val, dim, { ...o, onEpoch: (e) => seen.push(e.epoch) });
  assert.is(liveTensorCount(), before);
  const ref = referenceProbe(x, labels, dim, classes, o);
  assert.equal(seen, [0, 1, 2, 3, 4, 5]);
  assert.equal(got.history.map((h) => h.lr), ref.lrs);
  assertClose(ref.lrs, [0.5, 0.5, 0.05, 0.05, 0.005, 0.005], { rtol: 1e-12, atol: 0 }, 'lr per epoch');
  // float32 GPU training vs float64: 30 SGD steps of O(1) updates
  assertClose(got.weight, ref.weight, { rtol: 1e-4, atol: 1e-5 }, 'weights');
  assertClose(got.bias, ref.bias, { rtol: 1e-4, atol: 1e-5 }, 'bias');
  assertClose(got.history.map((h) => h.loss), ref.losses, { rtol: 1e-5, atol: 1e-6 }, 'epoch losses');
  // the schedule matters here: without the milestones the weights end elsewhere
  const flat = referenceProbe(x, labels, dim, classes, { ...o, milestones: [] });
  let diff = 0;
  for (let i = 0; i < flat.weight.length; i++) diff = Math.max(diff, Math.abs(flat.weight[i]! - ref.weight[i]!));
  assert.ok(diff > 1e-2, `the schedule changes the weights by ${diff}`);
  // predictions: argmax of the trained classifier on the val rows (float64 check)
  for (let r = 0; r < 11; r++) {
    const logits = Array.from({ length: classes }, (_, c) => {
      let s = got.bias[c]!;
      for (let d = 0; d < dim; d++) s += got.weight[c * dim + d]! * val.features[r * dim + d]!;
      return s;
    });
    const sorted = [...logits].sort((a, b) => b - a);
    if (sorted[0]! - sorted[1]! > 1e-5) assert.is(got.predictions[r], logits.indexOf(sorted[0]!), `val row ${r}`);
  }
  assert.is(got.trainCount, n);
}

test('defaultMilestones: 60% and 80% of the epochs (MoCo: 60 and 80 of 100)', () => {
  assert.equal(defaultMilestones(100), [60, 80]);
  assert.equal(defaultMilestones(10), [6, 8]);
});

function normalizedRows(n: number, dim: number, draw: (i: number) => number): Float32Array {
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += (out[i * dim + d] = draw(i * dim + d)) ** 2;
    for (let d = 0; d < dim; d++) out[i * dim + d] /= Math.sqrt(s);
  }
  return out;
}

test('clustered features: the probe with the default recipe is ~100% correct; with random labels near chance', async () => {
  const g = caseGenerator();
  const [dim, classes] = [32, 5];
  const centres = normalizedRows(classes, dim, () => g.normal());
  const make = (labels: Int32Array) =>
    normalizedRows(labels.length, dim, (j) => centres[labels[Math.floor(j / dim)]! * dim + (j % dim)]! + (0.5 / Math.sqrt(dim)) * g.normal());
  const trainLabels = Int32Array.from({ length: 500 }, (_, i) => i % classes);
  const valLabels = Int32Array.from({ length: 250 }, (_, i) => i % classes);
  const train = { features: make(trainLabels), labels: trainLabels };
  const val = { features: make(valLabels), labels: valLabels };
  // lr 30, momentum 0.9, batch 256, milestones at 60%/80%: 20 epochs keep the test short
  const good = await linearProbe(train, val, dim, { epochs: 20 });
  assert.ok(good.top1 >= 99, `clustered val top-1 ${good.top1}%`);
  assert.ok(good.trainTop1 >= 99, `clustered train top-1 ${good.trainTop1}%`);
  assertClose(good.history.map((h) => h.lr), [...Array(12).fill(30), ...Array(4).fill(3), ...Array(4).fill(0.3)], { rtol: 1e-12, atol: 0 }, 'lr per epoch');
  assert.ok(good.history.every((h) => Number.isFinite(h.loss)));
  // random labels: the probe can memorise some training rows, but the val set is at chance (20%, σ ≈ 2.5%)
  const noise = await linearProbe(
    { features: train.features, labels: Int32Array.from({ length: 500 }, () => g.int(classes)) },
    { features: val.features, labels: Int32Array.from({ length: 250 }, () => g.int(classes)) },
    dim,
    { epochs: 20, numClasses: classes },
  );
  assert.ok(noise.top1 > 8 && noise.top1 < 32, `random-label val top-1 ${noise.top1}%`);
});

test('standardize: the same as training on features standardised by the training mean and std', async () => {
  const g = caseGenerator();
  const [n, dim] = [40, 6];
  const x = Float32Array.from({ length: n * dim }, (_, i) => 3 + (i % dim) + 2 * g.normal());
  const labels = Int32Array.from({ length: n }, () => g.int(3));
  const val = { features: Float32Array.from({ length: 9 * dim }, () => 4 + g.normal()), labels: Int32Array.from({ length: 9 }, () => g.int(3)) };
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += x[i * dim + d]! / n;
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) sq[d] += (x[i * dim + d]! - mean[d]!) ** 2;
  const std = Array.from(sq, (s) => Math.sqrt(s / (n - 1)));
  const z = (a: Float32Array) => Float32Array.from(a, (v, i) => (v - mean[i % dim]!) / std[i % dim]!);
  const o = { lr: 0.3, epochs: 4, batchSize: 16, seed: 3 };
  const a = await linearProbe({ features: x, labels }, val, dim, { ...o, standardize: true });
  const b = await linearProbe({ features: z(x), labels }, { features: z(val.features), labels: val.labels }, dim, o);
  assertClose(a.weight, b.weight, { rtol: 1e-5, atol: 1e-6 }, 'weights');
  assert.equal(Array.from(a.predictions), Array.from(b.predictions));
});

test('linearProbe refuses bad input, naming what was expected', async () => {
  const f = new Float32Array(6);
  await assertRejects(() => linearProbe({ features: f, labels: [0, 1] }, { features: f, labels: [0, 1] }, 4), 'linearProbe', 'train', 'expected 8');
  await assertRejects(
    () => linearProbe({ features: f, labels: [0, 1, 2] }, { features: f, labels: [0, 1, 5] }, 2, { numClasses: 3 }),
    'linearProbe',
    'val label 5',
  );
  const nonFinite = await assertRejects(
    () => linearProbe({ features: Float32Array.of(1, NaN), labels: [0] }, { features: Float32Array.of(1, 1), labels: [0] }, 2),
    'linearProbe',
    'finite',
  );
  assert.instance(nonFinite, NonFiniteFeaturesError);
  await assertRejects(() => linearProbe({ features: f, labels: [0, 1, 0] }, { features: f, labels: [0, 1, 0] }, 2, { epochs: 0 }), 'linearProbe', 'epochs');
});

// ---- end to end: frozen encoder → raw backbone features → probe

test('linearEval: raw backbone features of the label subset and of all val images, then linearProbe', async () => {
  const g = caseGenerator();
  const size = 32;
  const model = resnet18({ stem: 'cifar', numClasses: 8, generator: new Generator(g.nextU32()) });
  const before = liveTensorCount();
  try {
    const per = size * size * 3;
    const train = { images: Uint8Array.from({ length: 8 * per }, () => g.int(256)), labels: Int32Array.of(0, 1, 2, 0, 1, 2, 0, 1), count: 8, size };
    const val = { images: Uint8Array.from({ length: 3 * per }, () => g.int(256)), labels: Int32Array.of(2, 0, 1), count: 3, size };
    const o = { lr: 0.1, epochs: 3, batchSize: 4, seed: 5, labelFraction: 0.5, subsetSeed: 9, extract: { batchSize: 8 } };
    model.train();
    const r = await linearEval(model, train, val, o);
    assert.ok(model.training, 'mode restored');
    const subset = stratifiedSubset(train.labels, 0.5, 9);
    assert.equal(Array.from(r.subset!), Array.from(subset));
    assert.is(r.trainCount, subset.length);
    // the same pipeline by hand: un-normalised backbone features, then the probe
    const chosen = selectImages(train, subset);
    const trainF = await extractFeatures(model, chosen.images, chosen.count, size, { normalize: false });
    const valF = await extractFeatures(model, val.images, val.count, size, { normalize: false });
    const norms = Array.from({ length: chosen.count }, (_, i) => Math.hypot(...trainF.subarray(i * 512, (i + 1) * 512)));
    assert.ok(norms.some((v) => Math.abs(v - 1) > 1e-3), 'backbone features are raw, not unit rows');
    const byHand = await linearProbe({ features: trainF, labels: chosen.labels }, { features: valF, labels: val.labels }, 512, o);
    assertClose(r.weight, byHand.weight, { rtol: 1e-5, atol: 1e-7 }, 'probe weights');
    assert.equal(Array.from(r.predictions), Array.from(byHand.predictions));
    assert.is(liveTensorCount(), before);
  } finally {
    model.dispose();
  }
});

test('linearEval uses backbone features, never the head', async () => {
  const calls: string[] = [];
  const enc: FeatureEncoder = {
    training: false,
    train: () => undefined,
    backbone: (x: Tensor) => (calls.push('backbone'), flatten(x, 1)),
    forward: (x: Tensor) => (calls.push('head'), flatten(x, 1)),
  };
  const g = caseGenerator();
  const set = { images: Uint8Array.from({ length: 4 * 12 }, () => g.int(256)), labels: Int32Array.of(0, 1, 0, 1), count: 4, size: 2 };
  const r = await linearEval(enc, set, set, { epochs: 1, lr: 0.1, extract: { features: 'head' } as object });
  assert.ok(calls.length > 0 && calls.every((c) => c === 'backbone'), calls.join());
  assert.is(r.subset, null);
});

test.run();
