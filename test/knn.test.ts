import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, flatten, fromArray, liveTensorCount, memory, noGrad, resnet18, slice, type Tensor } from '../lib/index';
import { IMAGENET_MEAN, IMAGENET_STD } from '../moco/augment/pipeline';
import { referenceAugment } from '../moco/augment/reference';
import { centerBatchParams, extractFeatures, type FeatureEncoder } from '../moco/eval/features';
import { knnClassify, knnMonitor, knnVote, NonFiniteFeaturesError, score, topK } from '../moco/eval/knn';
import { assertClose, assertRejects, assertThrows } from './helpers/assert';
import { caseGenerator } from './helpers/check';
import { bothPaths, ctx, seed } from './helpers/gpu';

// The kNN monitor against an independent float64 reference: similarities as float64 dot products,
// a full sort by (similarity descending, bank index ascending), votes Σ exp(sim / t) summed in that
// order, argmax with ties to the lower class.

function referenceKnn(
  bank: Float32Array,
  bankLabels: ArrayLike<number>,
  queries: Float32Array,
  dim: number,
  k: number,
  t: number,
  numClasses: number,
): { predictions: Int32Array; sims: Float64Array[]; ranked: number[][]; votes: Float64Array[] } {
  const nb = bankLabels.length;
  const nq = queries.length / dim;
  const predictions = new Int32Array(nq);
  const sims: Float64Array[] = [];
  const ranked: number[][] = [];
  const votes: Float64Array[] = [];
  for (let q = 0; q < nq; q++) {
    const s = new Float64Array(nb);
    for (let b = 0; b < nb; b++) {
      let acc = 0;
      for (let d = 0; d < dim; d++) acc += queries[q * dim + d]! * bank[b * dim + d]!;
      s[b] = acc;
    }
    const order = Array.from({ length: nb }, (_, i) => i).sort((a, b) => (s[a] !== s[b] ? s[b]! - s[a]! : a - b));
    const v = new Float64Array(numClasses);
    for (const b of order.slice(0, Math.min(k, nb))) v[bankLabels[b]!] += Math.exp(s[b]! / t);
    let best = 0;
    for (let c = 1; c < numClasses; c++) if (v[c]! > v[best]!) best = c;
    predictions[q] = best;
    sims.push(s);
    ranked.push(order);
    votes.push(v);
  }
  return { predictions, sims, ranked, votes };
}

function randomLabels(g: Generator, n: number, numClasses: number): Int32Array {
  return Int32Array.from({ length: n }, () => g.int(numClasses));
}

/** Rows whose entries are multiples of 1/8 in [-3/8, 3/8]: float32 dot products of them are exact, and ties are common. */
function gridFeatures(g: Generator, n: number, dim: number): Float32Array {
  return Float32Array.from({ length: n * dim }, () => (g.int(7) - 3) / 8);
}

function normalizedRows(g: Generator, n: number, dim: number, draw: (i: number) => number = () => g.normal()): Float32Array {
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const v = draw(i * dim + d);
      out[i * dim + d] = v;
      s += v * v;
    }
    const inv = 1 / Math.sqrt(s);
    for (let d = 0; d < dim; d++) out[i * dim + d] *= inv;
  }
  return out;
}

test('topK keeps the k largest, ties to the lower index, nearest first; k above the length keeps all', () => {
  const g = caseGenerator();
  for (const [n, k] of [[1, 1], [1, 5], [7, 3], [50, 200], [200, 200], [201, 200], [1000, 13], [997, 1]]) {
    const sims = Float32Array.from({ length: n }, () => g.int(9) / 4); // many exact ties
    const got = Array.from(topK(sims, k));
    const want = Array.from({ length: n }, (_, i) => i)
      .sort((a, b) => (sims[a] !== sims[b] ? sims[b]! - sims[a]! : a - b))
      .slice(0, Math.min(n, k));
    assert.equal(got, want, `n ${n}, k ${k}`);
  }
  assertThrows(() => topK(Float32Array.from([0.1, NaN, 0.3]), 2), 'topK', 'NaN');
  assertThrows(() => topK(Float32Array.from([0.1, 0.2, 0.3, NaN]), 2), 'topK', 'NaN');
});

test('knnVote equals the float64 reference on the same similarities, vote ties to the lower class', () => {
  const g = caseGenerator();
  for (const [nb, k, classes] of [[1, 200, 3], [13, 5, 4], [300, 200, 10], [97, 97, 2], [40, 1, 5]]) {
    for (let rep = 0; rep < 20; rep++) {
      const sims = Float32Array.from({ length: nb }, () => (g.int(11) - 5) / 10);
      const labels = randomLabels(g, nb, classes);
      const bank = new Float32Array(nb); // the reference computes sims as dot products: 1-d rows bank[b]·1
      bank.set(sims);
      const want = referenceKnn(bank, labels, Float32Array.of(1), 1, k, 0.1, classes).predictions[0];
      assert.is(knnVote(sims, labels, k, 0.1, classes), want, `nb ${nb}, k ${k}`);
    }
  }
  // equal votes: two neighbours with the same similarity and different classes → the lower class
  assert.is(knnVote(Float32Array.of(0.5, 0.5), [3, 1], 2, 0.1, 4), 1);
  assert.is(knnVote(Float32Array.of(0.5, 0.5), [1, 3], 2, 0.1, 4), 1);
  // the k-th place shared by two rows: the lower index is kept (class 2, not class 0)
  assert.is(knnVote(Float32Array.of(0.2, 0.5, 0.5), [1, 2, 0], 1, 0.1, 3), 2);
});

test('knnClassify equals the reference exactly on exact-arithmetic features (ties everywhere, k > bank, chunks)', async () => {
  const before = liveTensorCount();
  await bothPaths(async () => {
    const g = caseGenerator();
    // [bank, queries, dim, k, classes, chunk]
    const cases: [number, number, number, number, number, number | undefined][] = [
      [1, 1, 1, 200, 1, undefined],
      [5, 3, 4, 200, 3, undefined], // k > bank
      [37, 29, 12, 7, 5, 8], // chunks of 8, last one of 5
      [256, 64, 12, 200, 10, 64],
      [257, 65, 16, 200, 10, 13],
      [500, 130, 8, 1, 4, undefined],
    ];
    for (const [nb, nq, dim, k, classes, chunk] of cases) {
      const bank = gridFeatures(g, nb, dim);
      const queries = gridFeatures(g, nq, dim);
      const bankLabels = randomLabels(g, nb, classes);
      const queryLabels = randomLabels(g, nq, classes);
      const got = await knnClassify(
        { features: bank, labels: bankLabels },
        { features: queries, labels: queryLabels },
        dim,
        { k, t: 0.1, numClasses: classes, ...(chunk ? { chunk } : {}) },
      );
      const ref = referenceKnn(bank, bankLabels, queries, dim, k, 0.1, classes);
      assert.equal(Array.from(got.predictions), Array.from(ref.predictions), `bank ${nb}, queries ${nq}, k ${k}, sub ${ctx.useSubgroups}`);
      assert.is(got.k, Math.min(k, nb));
      const correct = ref.predictions.filter((p, i) => p === queryLabels[i]).length;
      assert.ok(Math.abs(got.top1 - (100 * correct) / nq) < 1e-9);
    }
  });
  assert.is(liveTensorCount(), before);
});

test('knnClassify matches the reference on random unit features except within float32 error of a tie', async () => {
  await bothPaths(async () => {
    const g = caseGenerator();
    for (const [nb, nq, dim, k, classes] of [[300, 50, 32, 200, 10], [1031, 97, 64, 20, 7], [64, 17, 512, 200, 4]] as const) {
      const bank = normalizedRows(g, nb, dim);
      const queries = normalizedRows(g, nq, dim);
      const bankLabels = randomLabels(g, nb, classes);
      const queryLabels = randomLabels(g, nq, classes);
      const got = await knnClassify({ features: bank, labels: bankLabels }, { features: queries, labels: queryLabels }, dim, {
        k,
        t: 0.1,
        numClasses: classes,
        chunk: 16,
      });
      const ref = referenceKnn(bank, bankLabels, queries, dim, k, 0.1, classes);
      // float32 similarities are within ~1e-6 of float64: a query is decidable when the k-th and
      // (k+1)-th similarities differ by more than 1e-5 and the best vote leads by more than 1e-3 relative
      let checked = 0;
      for (let q = 0; q < nq; q++) {
        const s = ref.sims[q]!;
        const order = ref.ranked[q]!;
        const kk = Math.min(k, nb);
        const gapOk = kk === nb || s[order[kk - 1]!]! - s[order[kk]!]! > 1e-5;
        const v = Array.from(ref.votes[q]!).sort((a, b) => b - a);
        const voteOk = v.length < 2 || v[0]! - v[1]! > 1e-3 * v[0]!;
        if (!(gapOk && voteOk)) continue;
        checked++;
        assert.is(got.predictions[q], ref.predictions[q], `query ${q} of ${nq} (bank ${nb}, dim ${dim}, sub ${ctx.useSubgroups})`);
      }
      // Near ties are rare (0.38% of queries in the 64×512 case, simulated): at most 10% of the
      // queries, or 2, may be undecidable (a 17-query case then fails by chance ~4e-5 of runs).
      assert.ok(checked >= nq - Math.max(2, Math.floor(0.1 * nq)), `only ${checked} of ${nq} queries were decidable (seed ${seed})`);
    }
  });
});

/** Unit rows around `classes` random unit centres (noise of norm ≈ spread). */
function clustered(g: Generator, centres: Float32Array, labels: Int32Array, dim: number, spread: number): Float32Array {
  return normalizedRows(g, labels.length, dim, (j) => {
    const i = Math.floor(j / dim);
    return centres[labels[i]! * dim + (j % dim)]! + (spread / Math.sqrt(dim)) * g.normal();
  });
}

test('clustered features: kNN is ~100% correct; with random labels it is near chance', async () => {
  const g = caseGenerator();
  const dim = 32;
  const classes = 5;
  const centres = normalizedRows(g, classes, dim);
  const bankLabels = Int32Array.from({ length: 500 }, (_, i) => i % classes);
  const queryLabels = Int32Array.from({ length: 250 }, (_, i) => i % classes);
  const bank = clustered(g, centres, bankLabels, dim, 0.5);
  const queries = clustered(g, centres, queryLabels, dim, 0.5);
  const good = await knnClassify({ features: bank, labels: bankLabels }, { features: queries, labels: queryLabels }, dim);
  assert.ok(good.top1 >= 99, `clustered top-1 ${good.top1}%`);
  assert.is(good.k, 200);
  assert.is(good.numClasses, classes);
  // random labels on both sides: nothing to learn, chance is 20% (σ ≈ 2.5% over 250 queries)
  const noise = await knnClassify(
    { features: bank, labels: randomLabels(g, 500, classes) },
    { features: queries, labels: randomLabels(g, 250, classes) },
    dim,
  );
  assert.ok(noise.top1 > 8 && noise.top1 < 32, `random-label top-1 ${noise.top1}%`);
});

test('score: confusion rows are true classes, per-class accuracy NaN for a class without queries', () => {
  const s = score([0, 1, 1, 2, 0, 1], [0, 1, 2, 2, 1, 1], 4);
  assert.equal(Array.from(s.confusion), [1, 0, 0, 0, 1, 2, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
  assert.ok(Math.abs(s.top1 - (100 * 4) / 6) < 1e-12);
  assert.equal(s.perClassAccuracy.slice(0, 3), [100, (100 * 2) / 3, 50]);
  assert.ok(Number.isNaN(s.perClassAccuracy[3]));
});

test('knnClassify refuses bad input, naming the op and what was expected', async () => {
  const f = new Float32Array(8);
  await assertRejects(() => knnClassify({ features: f, labels: [0, 1] }, { features: f, labels: [0] }, 4), 'knnClassify', 'queries', 'expected 4');
  const nonFinite = await assertRejects(
    () => knnClassify({ features: Float32Array.of(0, NaN), labels: [0] }, { features: Float32Array.of(1, 0), labels: [0] }, 2),
    'knnClassify',
    'NaN',
  );
  assert.instance(nonFinite, NonFiniteFeaturesError, 'the trainer stops a diverged run on this class');
  await assertRejects(() => knnClassify({ features: f, labels: [0, 3] }, { features: f, labels: [0, 1] }, 4, { numClasses: 2 }), 'knnClassify', 'label 3');
  await assertRejects(() => knnClassify({ features: f, labels: [0, 1] }, { features: f, labels: [0, 1] }, 4, { k: 0 }), 'knnClassify', 'k must');
  await assertRejects(() => knnClassify({ features: f, labels: [0, 1] }, { features: f, labels: [0, 1] }, 4, { t: 0 }), 'knnClassify', 't must');
  await assertRejects(() => knnClassify({ features: new Float32Array(0), labels: [] }, { features: f, labels: [0, 1] }, 4), 'knnClassify', 'bank is empty');
});

// ---- feature extraction on a tiny ResNet-18 (random init, CIFAR stem, 32×32 images)

function randomImages(g: Generator, count: number, size: number): Uint8Array {
  return Uint8Array.from({ length: count * size * size * 3 }, () => g.int(256));
}

/** The center transform on the CPU in float64: HWC uint8 → NCHW (v/255 − mean)/std. */
function normalizeOnCpu(images: Uint8Array, count: number, size: number): Float32Array {
  const out = new Float32Array(count * 3 * size * size);
  for (let i = 0; i < count; i++) {
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        for (let c = 0; c < 3; c++) {
          const v = images[((i * size + y) * size + x) * 3 + c]! / 255;
          out[((i * 3 + c) * size + y) * size + x] = (v - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!;
        }
      }
    }
  }
  return out;
}

function rowNormalize(rows: Float32Array, dim: number): Float64Array {
  const out = new Float64Array(rows.length);
  for (let r = 0; r < rows.length / dim; r++) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += rows[r * dim + d]! ** 2;
    const inv = 1 / Math.sqrt(s);
    for (let d = 0; d < dim; d++) out[r * dim + d] = rows[r * dim + d]! * inv;
  }
  return out;
}

test('centerBatchParams: the whole image, no jitter, no grayscale, no blur, no flip', () => {
  const p = centerBatchParams(3, 40, 50);
  assert.is(p.length, 3);
  p.forEach((q, i) => {
    assert.equal(q, { source: i, crop: { top: 0, left: 0, height: 40, width: 50 }, jitter: null, grayscale: false, blurSigma: null, flip: false });
  });
});

/** A stand-in encoder: backbone = the flattened normalised image, head = its first 5 values ×2; records its mode. */
function pixelEncoder(): FeatureEncoder & { modes: boolean[] } {
  const enc = {
    training: true,
    modes: [] as boolean[],
    train(mode = true) {
      enc.training = mode;
    },
    backbone(x: Tensor) {
      enc.modes.push(enc.training);
      return flatten(x, 1);
    },
    forward(x: Tensor) {
      enc.modes.push(enc.training);
      const f = flatten(x, 1);
      const h = slice(f, 1, 0, 5);
      f.dispose();
      const out = h.mul(2);
      h.dispose();
      return out;
    },
  };
  return enc;
}

test('extractFeatures: batches in order (last one partial), eval mode during the pass and restored, rows normalised, no leak', () =>
  bothPaths(async () => {
    const g = caseGenerator();
    const size = 6;
    const count = 7;
    const dim = 3 * size * size;
    const images = randomImages(g, count, size);
    const cpu = normalizeOnCpu(images, count, size); // NCHW rows = exactly what flatten(x) gives
    const enc = pixelEncoder();
    const before = liveTensorCount();
    const raw = await extractFeatures(enc, images, count, size, { batchSize: 3, normalize: false });
    assert.equal(enc.modes, [false, false, false], 'three batches, all in eval mode');
    assert.ok(enc.training, 'training mode restored');
    // the GPU normalises in float32: (v/255 − mean)/std within a few ulps
    assertClose(raw, cpu, { rtol: 1e-6, atol: 1e-6 }, 'raw features');
    const unit = await extractFeatures(enc, images, count, size, { batchSize: 4 });
    assertClose(unit, rowNormalize(cpu, dim), { rtol: 1e-5, atol: 1e-6 }, 'normalised features');
    const head = await extractFeatures(enc, images, count, size, { batchSize: 5, features: 'head', normalize: false });
    const wantHead = Float64Array.from({ length: count * 5 }, (_, j) => 2 * cpu[Math.floor(j / 5) * dim + (j % 5)]!);
    assertClose(head, wantHead, { rtol: 1e-6, atol: 1e-6 }, 'head features');
    // memory stays flat: a second identical pass creates no GPU buffer and keeps no tensor
    const created = memory().buffersCreated;
    await extractFeatures(enc, images, count, size, { batchSize: 4 });
    assert.is(memory().buffersCreated, created);
    enc.train(false);
    await extractFeatures(enc, images, count, size, { batchSize: 100 });
    assert.ok(!enc.training, 'eval mode kept');
    assert.is(liveTensorCount(), before);
    // a failing encoder still gets its mode back and leaks nothing
    enc.train(true);
    const broken = { ...enc, backbone: () => { throw new Error('boom'); } } as FeatureEncoder;
    await assertRejects(() => extractFeatures(broken, images, count, size), 'boom');
    assert.ok(enc.training, 'train(true) was called again after the failure');
    assert.is(liveTensorCount(), before);
  }),
);

test('extractFeatures with outputSize resizes the whole image (the augment reference, center params)', async () => {
  const g = caseGenerator();
  const [size, out, count] = [9, 5, 4];
  const images = randomImages(g, count, size);
  const mean = [0.4914, 0.4822, 0.4465];
  const std = [0.2023, 0.1994, 0.201];
  const got = await extractFeatures(pixelEncoder(), images, count, size, { batchSize: 3, outputSize: out, normalize: false, mean, std });
  const want = referenceAugment(images, { count, height: size, width: size }, centerBatchParams(count, size, size), out, mean, std);
  // bilinear sampling in float32 vs float64, divided by std ≈ 0.2 (as test/augment.test.ts)
  assertClose(got, want, { rtol: 1e-5, atol: 5e-5 }, 'resized features');
});

test("extractFeatures on a tiny ResNet-18 (random init, 32×32) = the model's own eval forward, rows unit norm", async () => {
  const g = caseGenerator();
  const size = 32;
  const count = 3;
  const model = resnet18({ stem: 'cifar', numClasses: 16, generator: new Generator(g.nextU32()) });
  const images = randomImages(g, count, size);
  const before = liveTensorCount();
  try {
    // reference: the CPU-normalised batch through the model's own backbone in eval mode; the head
    // (fc, a Linear 512 → 16) applied in float64 with the model's weights
    model.eval();
    const x = fromArray(normalizeOnCpu(images, count, size), [count, 3, size, size]);
    const refBackbone = noGrad(() => model.backbone(x));
    const wantBackbone = await refBackbone.toArray();
    x.dispose();
    refBackbone.dispose();
    const state = await model.stateDict();
    const w = state.get('fc.weight')!.data;
    const b = state.get('fc.bias')!.data;
    const wantHead = new Float32Array(count * 16);
    for (let r = 0; r < count; r++) {
      for (let o = 0; o < 16; o++) {
        let acc = b[o]!;
        for (let d = 0; d < 512; d++) acc += wantBackbone[r * 512 + d]! * w[o * 512 + d]!;
        wantHead[r * 16 + o] = acc;
      }
    }
    model.train();

    const backbone = await extractFeatures(model, images, count, size, { batchSize: 2 });
    assert.is(backbone.length, count * 512);
    assert.ok(model.training, 'the training mode is restored');
    // float32 normalisation on the GPU vs float64 on the CPU (≈1e-7 relative) carried through 18 layers
    assertClose(backbone, rowNormalize(wantBackbone, 512), { rtol: 1e-3, atol: 2e-5 }, 'backbone features');
    for (let r = 0; r < count; r++) {
      let s = 0;
      for (let d = 0; d < 512; d++) s += backbone[r * 512 + d]! ** 2;
      assert.ok(Math.abs(Math.sqrt(s) - 1) < 1e-5, `row ${r} has norm ${Math.sqrt(s)}`);
    }
    const head = await extractFeatures(model, images, count, size, { batchSize: 3, features: 'head' });
    assertClose(head, rowNormalize(wantHead, 16), { rtol: 1e-3, atol: 2e-5 }, 'head features');
    assert.is(liveTensorCount(), before);
  } finally {
    model.dispose();
  }
});

test('extractFeatures refuses bad input', async () => {
  const model = pixelEncoder();
  await assertRejects(() => extractFeatures(model, new Uint8Array(10), 1, 4), 'extractFeatures', '48 bytes');
  await assertRejects(() => extractFeatures(model, new Uint8Array(48), 1, 4, { batchSize: 0 }), 'extractFeatures', 'batchSize');
  await assertRejects(() => extractFeatures(model, new Uint8Array(48), 0, 4), 'extractFeatures', 'count');
  await assertRejects(() => extractFeatures(model, new Uint8Array(48), 1, 4, { features: 'fc' as 'head' }), 'extractFeatures', "'backbone' or 'head'");
  assert.equal(model.modes, []);
});

test('knnMonitor: extraction of bank and queries, then knnClassify (a query identical to a bank image finds it)', async () => {
  const g = caseGenerator();
  const size = 8;
  const enc = pixelEncoder();
  const train = { images: randomImages(g, 6, size), labels: Int32Array.of(0, 1, 2, 0, 1, 2), count: 6, size };
  const per = size * size * 3;
  // val image j is a copy of train image 2j+1: with k = 1 its nearest neighbour is that image (cosine 1)
  const valImages = new Uint8Array(3 * per);
  for (let j = 0; j < 3; j++) valImages.set(train.images.subarray((2 * j + 1) * per, (2 * j + 2) * per), j * per);
  const val = { images: valImages, labels: Int32Array.of(1, 0, 2), count: 3, size };
  const r = await knnMonitor(enc, train, val, { k: 1, extract: { batchSize: 4 } });
  assert.equal(Array.from(r.predictions), [1, 0, 2]);
  assert.is(r.top1, 100);
  assert.equal(enc.modes, [false, false, false], 'bank in two batches, queries in one');
});

test.run();
