import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Generator, liveTensorCount } from '../lib/index';
import {
  MOCO_V2_AUGMENT,
  JITTER_OPS,
  colorJitter,
  drawBatchParams,
  drawParams,
  drawViews,
  randomResizedCrop,
  roundHalfEven,
  type AugmentParams,
  type CropBox,
  type JitterOp,
} from '../moco/augment/params';
import { IMAGENET_MEAN, IMAGENET_STD, augment, uploadImages } from '../moco/augment/pipeline';
import { hsvToRgb, referenceAugment } from '../moco/augment/reference';
import { assertClose, assertThrows, type Tolerance } from './helpers/assert';
import { caseGenerator } from './helpers/check';
import { bothPaths } from './helpers/gpu';

// GPU output vs the float64 reference (moco/augment/reference.ts) on the same parameters. Values
// are compared unnormalised (mean 0, std 1: in [0, 1]) unless a test says otherwise.
// Tolerance: the float32 sampling coordinate (x + 0.5)·w/S − 0.5 is off by up to ~1e-7·side pixels
// (side = the input's larger side) and neighbouring random bytes differ by up to 1, so the error
// grows with the input side (measured: 1.8e-5 for crop-only 224-px inputs); jitter factors amplify
// it by up to 1.8; /255, hue's divisions, the float32 contrast mean and blur add a few 1e-6.
// ImageNet normalisation divides by std ≥ 0.224.
const RAW = { mean: [0, 0, 0], std: [1, 1, 1] };

function tolFor(side: number, normalised = false): Tolerance {
  const raw = 5e-6 + 1.8 * 2e-7 * side;
  return { rtol: 1e-5, atol: normalised ? raw / 0.224 : raw };
}

interface Batch {
  bytes: Uint8Array;
  count: number;
  height: number;
  width: number;
}

function randomBatch(g: Generator, count: number, height: number, width: number): Batch {
  const bytes = new Uint8Array(count * height * width * 3);
  for (let i = 0; i < bytes.length; i++) bytes[i] = g.int(256);
  return { bytes, count, height, width };
}

function plain(source: number, crop: CropBox): AugmentParams {
  return { source, crop, jitter: null, grayscale: false, blurSigma: null, flip: false };
}

function full(b: Batch): CropBox {
  return { top: 0, left: 0, height: b.height, width: b.width };
}

/** Runs the GPU op with and without subgroups and compares both with the reference. */
async function check(
  label: string,
  b: Batch,
  params: AugmentParams[],
  size: number,
  tol: Tolerance,
  norm: { mean: number[]; std: number[] } = RAW,
): Promise<void> {
  const expected = referenceAugment(b.bytes, b, params, size, norm.mean, norm.std);
  await bothPaths(async (subgroups) => {
    const before = liveTensorCount();
    const batch = uploadImages(b.bytes, b.count, b.height, b.width);
    const out = augment(batch, params, { size, ...norm });
    assert.equal([...out.shape], [params.length, 3, size, size], `${label}: output shape`);
    const got = await out.toArray();
    out.dispose();
    batch.data.dispose();
    assertClose(got, expected, tol, `${label} (${subgroups ? 'subgroup' : 'workgroup-memory'} stats)`);
    assert.is(liveTensorCount(), before, `${label}: tensors left alive`);
  });
}

// Output sides: 1, primes, multiples of 4 and 8 (vec4 blur chunks, scalar blur window) ± 1, and
// S² around the 64 pixels one main-pass workgroup covers per sweep (7² < 64 = 8² < 9²).
const SIZES = [1, 2, 7, 8, 9, 16, 17, 33];

test('crop and bilinear resize: boxes at the borders, upscale and downscale', async () => {
  const g = caseGenerator();
  const b = randomBatch(g, 2, 23, 29);
  const boxes: CropBox[] = [
    full(b),
    { top: 0, left: 0, height: 1, width: 1 },
    { top: 22, left: 28, height: 1, width: 1 },
    { top: 0, left: 0, height: 5, width: 3 },
    { top: 23 - 7, left: 29 - 11, height: 7, width: 11 },
    { top: 0, left: 0, height: 23, width: 1 },
    { top: 22, left: 0, height: 1, width: 29 },
    { top: 3, left: 5, height: 17, width: 13 },
  ];
  for (const size of SIZES) {
    const params = boxes.flatMap((box) => [plain(0, box), plain(1, box)]);
    await check(`crop size ${size}`, b, params, size, tolFor(29));
  }
  // Identity: the whole image at its own size reproduces the bytes / 255.
  const sq = randomBatch(g, 1, 13, 13);
  await check('identity crop', sq, [plain(0, full(sq))], 13, { rtol: 1e-6, atol: 1e-7 }); // exact coordinates: bytes/255 only
});

test('each jitter op alone, over its factor range', async () => {
  const g = caseGenerator();
  const b = randomBatch(g, 2, 19, 17);
  const factors: Record<JitterOp, number[]> = {
    brightness: [0, 0.6, 1, 1.4, 2],
    contrast: [0, 0.6, 1, 1.4, 2],
    saturation: [0, 0.6, 1, 1.4, 2],
    hue: [-0.5, -0.1, -0.03, 0, 0.07, 0.1, 0.5],
  };
  for (const op of JITTER_OPS) {
    const params = factors[op].flatMap((f, i) => {
      const jitter = { order: [op], brightness: 1, contrast: 1, saturation: 1, hue: 0, [op]: f };
      const crop = i % 2 ? full(b) : { top: 2, left: 1, height: 15, width: 12 };
      return [0, 1].map((source) => ({ ...plain(source, crop), jitter }));
    });
    await check(`${op} alone`, b, params, 11, tolFor(19));
  }
});

test('hue across the colour wheel (ties, grays, saturated and dark colours)', async () => {
  // One 24×24 image whose pixels sweep hue, saturation and value, plus exact primaries and grays.
  const side = 24;
  const bytes = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const h = x / side;
      const s = [0, 0.05, 0.5, 1][y % 4]!;
      const v = [1, 0.7, 0.3, 0.02, 0.5, 0.9][Math.floor(y / 4)]!;
      const rgb = hsvToRgb(h, s, v).map((c) => Math.round(c * 255));
      bytes.set(rgb, (y * side + x) * 3);
    }
  }
  bytes.set([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 0, 0, 255, 255, 255, 0, 255, 128, 128, 128, 0, 0, 0], 0);
  const b = { bytes, count: 1, height: side, width: side };
  const params = [-0.5, -0.37, -0.1, -0.01, 0.01, 0.1, 0.25, 0.5].map((hue) => ({
    ...plain(0, full(b)),
    jitter: { order: ['hue'] as JitterOp[], brightness: 1, contrast: 1, saturation: 1, hue },
  }));
  await check('hue wheel', b, params, side, tolFor(side));
});

function permutations<T>(xs: readonly T[]): T[][] {
  if (xs.length <= 1) return [[...xs]];
  return xs.flatMap((x, i) => permutations([...xs.slice(0, i), ...xs.slice(i + 1)]).map((rest) => [x, ...rest]));
}

test('all 24 jitter orders: contrast at every position, after brightness, saturation and hue', async () => {
  const g = caseGenerator();
  const b = randomBatch(g, 3, 19, 19);
  const orders = permutations(JITTER_OPS);
  assert.is(orders.length, 24);
  const params = orders.map((order, i) => ({
    ...plain(i % 3, { top: g.int(4), left: g.int(4), height: 15, width: 14 }),
    jitter: { ...colorJitter(g, MOCO_V2_AUGMENT.jitter), order },
  }));
  // Pairs with contrast right after each other op, with strong factors so the order matters.
  const strong = { brightness: 1.4, contrast: 0.6, saturation: 1.4, hue: 0.1 };
  for (const first of ['brightness', 'saturation', 'hue'] as JitterOp[]) {
    params.push({ ...plain(0, full(b)), jitter: { order: [first, 'contrast'], ...strong } });
    params.push({ ...plain(1, full(b)), jitter: { order: ['contrast', first], ...strong } });
  }
  await check('jitter orders', b, params, 13, tolFor(19));
});

test('grayscale alone and after jitter', async () => {
  const g = caseGenerator();
  const b = randomBatch(g, 2, 17, 17);
  const params: AugmentParams[] = [
    { ...plain(0, full(b)), grayscale: true },
    { ...plain(1, { top: 3, left: 0, height: 9, width: 17 }), grayscale: true },
    { ...plain(0, full(b)), grayscale: true, jitter: colorJitter(g, MOCO_V2_AUGMENT.jitter) },
  ];
  await check('grayscale', b, params, 9, tolFor(17));
});

test('Gaussian blur, σ 0.1 to 2, at small sizes (radius past the image edge)', async () => {
  const g = caseGenerator();
  const b = randomBatch(g, 2, 21, 21);
  // Sides that are multiples of 4 take the vec4 blur kernels, the others the scalar one.
  for (const size of [1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 16, 17]) {
    const params: AugmentParams[] = [0.1, 0.5, 1.3, 2].flatMap((sigma, i) => [
      { ...plain(i % 2, full(b)), blurSigma: sigma },
      { ...plain((i + 1) % 2, { top: 1, left: 2, height: 11, width: 19 }), blurSigma: sigma },
    ]);
    params.push(plain(0, full(b))); // a record without blur between blurred ones
    await check(`blur size ${size}`, b, params, size, tolFor(21));
  }
});

test('horizontal flip, alone and with blur and grayscale', async () => {
  const g = caseGenerator();
  const b = randomBatch(g, 2, 15, 18);
  const params: AugmentParams[] = [
    { ...plain(0, full(b)), flip: true },
    { ...plain(1, { top: 2, left: 5, height: 10, width: 7 }), flip: true },
    { ...plain(0, { top: 0, left: 0, height: 12, width: 9 }), flip: true, blurSigma: 1.7 },
    { ...plain(1, full(b)), flip: true, grayscale: true, blurSigma: 0.6 },
  ];
  for (const size of [1, 6, 12, 15]) await check(`flip size ${size}`, b, params, size, tolFor(18));
});

test('full random pipeline, two views, ImageNet normalisation', async () => {
  const g = caseGenerator();
  const b = randomBatch(g, 11, 37, 41);
  for (const size of [24, 32]) {
    const views = drawViews(g, b.count, b.height, b.width);
    for (const [v, params] of views.entries()) {
      await check(`view ${v} size ${size}`, b, params, size, tolFor(41, true), {
        mean: [...IMAGENET_MEAN],
        std: [...IMAGENET_STD],
      });
    }
  }
  // Several workgroups per image in the main pass (130² pixels) and both views in one call.
  const big = randomBatch(g, 3, 140, 150);
  const both = drawViews(g, big.count, big.height, big.width).flat();
  await check('two views in one call, size 130', big, both, 130, tolFor(150, true), {
    mean: [...IMAGENET_MEAN],
    std: [...IMAGENET_STD],
  });
});

test('more than 65,535 records: the main and stats grids fold into y', async () => {
  const g = caseGenerator();
  const b = randomBatch(g, 3, 4, 5);
  const jitter = { order: ['brightness', 'contrast'] as JitterOp[], brightness: 1.2, contrast: 0.7, saturation: 1, hue: 0 };
  const params: AugmentParams[] = Array.from({ length: 65_537 + 300 }, (_, i) => ({
    ...plain(i % 3, { top: i % 2, left: i % 3, height: 3, width: 2 }),
    jitter: i % 1000 === 0 ? null : jitter, // > 65,535 contrast records: the stats grid folds too
    flip: i % 2 === 1,
    blurSigma: i % 7 === 0 ? 0.8 : null,
  }));
  await check('65,837 records', b, params, 1, tolFor(5));
});

test('defaults: output shape [N, 3, S, S] and ImageNet normalisation of a constant image', async () => {
  const before = liveTensorCount();
  const value = 200;
  const bytes = new Uint8Array(4 * 10 * 12 * 3).fill(value);
  const batch = uploadImages(bytes, 4, 10, 12);
  const params = [0, 1, 2, 3].map((i) => plain(i, { top: i, left: i, height: 10 - i, width: 12 - 2 * i }));
  params[1]!.flip = true;
  params[2]!.blurSigma = 1.5;
  const out = augment(batch, params, { size: 7 });
  assert.equal([...out.shape], [4, 3, 7, 7]);
  const got = await out.toArray();
  out.dispose();
  batch.data.dispose();
  const expected = new Float64Array(got.length);
  for (let i = 0; i < 4; i++) for (let c = 0; c < 3; c++) expected.fill((value / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!, (i * 3 + c) * 49, (i * 3 + c + 1) * 49);
  assertClose(got, expected, { rtol: 1e-6, atol: 1e-6 }, 'constant image');
  assert.equal([...IMAGENET_MEAN], [0.485, 0.456, 0.406]);
  assert.equal([...IMAGENET_STD], [0.229, 0.224, 0.225]);
  assert.is(liveTensorCount(), before);
});

test('determinism: a seed gives the same parameters and the same output', async () => {
  const g = caseGenerator();
  const b = randomBatch(g, 5, 33, 33);
  const seedValue = g.nextU32();
  const run = async (s: number) => {
    const params = drawBatchParams(new Generator(s), b.count, b.height, b.width);
    const batch = uploadImages(b.bytes, b.count, b.height, b.width);
    const out = augment(batch, params, { size: 16 });
    const data = await out.toArray();
    out.dispose();
    batch.data.dispose();
    return { params, data };
  };
  const first = await run(seedValue);
  const second = await run(seedValue);
  assert.equal(second.params, first.params);
  assert.equal(Array.from(second.data), Array.from(first.data), 'same seed, same output (bitwise)');
  const other = await run(seedValue + 1);
  assert.not.equal(other.params, first.params);
});

test('parameter distributions over 4000 draws', () => {
  const g = caseGenerator();
  const n = 4000;
  const size = 224;
  const draws = Array.from({ length: n }, (_, i) => drawParams(g, i, size, size));
  let jitter = 0, gray = 0, blur = 0, flip = 0;
  let minScale = 1, maxScale = 0, minRatio = 10, maxRatio = 0;
  const orders = new Set<string>();
  const contrastPositions = new Set<number>();
  let lowB = 2, highB = 0, lowH = 1, highH = -1;
  for (const p of draws) {
    const { top, left, height, width } = p.crop;
    assert.ok(top >= 0 && left >= 0 && top + height <= size && left + width <= size, 'crop inside the image');
    const scale = (height * width) / (size * size);
    const ratio = width / height;
    minScale = Math.min(minScale, scale);
    maxScale = Math.max(maxScale, scale);
    minRatio = Math.min(minRatio, ratio);
    maxRatio = Math.max(maxRatio, ratio);
    if (p.jitter) {
      jitter++;
      const j = p.jitter;
      assert.equal([...j.order].sort(), [...JITTER_OPS].sort(), 'each jitter runs all four ops once');
      orders.add(j.order.join());
      contrastPositions.add(j.order.indexOf('contrast'));
      for (const k of ['brightness', 'contrast', 'saturation'] as const) assert.ok(j[k] >= 0.6 && j[k] < 1.4, `${k} ${j[k]}`);
      assert.ok(j.hue >= -0.1 && j.hue < 0.1, `hue ${j.hue}`);
      lowB = Math.min(lowB, j.brightness);
      highB = Math.max(highB, j.brightness);
      lowH = Math.min(lowH, j.hue);
      highH = Math.max(highH, j.hue);
    }
    if (p.grayscale) gray++;
    if (p.blurSigma !== null) {
      blur++;
      assert.ok(p.blurSigma >= 0.1 && p.blurSigma < 2, `sigma ${p.blurSigma}`);
    }
    if (p.flip) flip++;
  }
  // Scale and ratio of whole-pixel boxes: within the ranges up to the rounding of w and h
  // (each within 0.5 px of a side ≥ √(0.2·224²/(4/3)) ≈ 87 px, so < 1.2 % each).
  assert.ok(minScale >= 0.2 * 0.988 && maxScale <= 1, `scale range [${minScale}, ${maxScale}]`);
  assert.ok(minRatio >= 0.75 * 0.988 && maxRatio <= (4 / 3) * 1.012, `ratio range [${minRatio}, ${maxRatio}]`);
  assert.ok(minScale < 0.22 && maxScale > 0.9, `scale covers its range: [${minScale}, ${maxScale}]`);
  assert.ok(minRatio < 0.77 && maxRatio > 1.3, `ratio covers its range: [${minRatio}, ${maxRatio}]`);
  assert.ok(lowB < 0.62 && highB > 1.38 && lowH < -0.098 && highH > 0.098, 'jitter factors cover their ranges');
  // Probabilities within 4.5 standard deviations of a binomial.
  for (const [name, count, p] of [['jitter', jitter, 0.8], ['grayscale', gray, 0.2], ['blur', blur, 0.5], ['flip', flip, 0.5]] as const) {
    const sd = Math.sqrt(n * p * (1 - p));
    assert.ok(Math.abs(count - n * p) < 4.5 * sd, `${name}: ${count} of ${n}, expected ${n * p} ± ${(4.5 * sd).toFixed(0)}`);
  }
  assert.is(orders.size, 24, 'all 24 jitter orders occur');
  assert.equal([...contrastPositions].sort(), [0, 1, 2, 3], 'contrast occurs at each of the four positions');
});

test('RandomResizedCrop fallback and Python rounding', () => {
  const g = caseGenerator();
  // A 60×200 strip: an attempt fits only when area fraction / ratio ≤ 0.3, so about 3 draws in 10
  // use all 10 attempts and fall back to a centred crop clipped to ratio 4/3 (60×80).
  let fallbacks = 0;
  for (let i = 0; i < 500; i++) {
    const { box, fallback } = randomResizedCrop(g, 60, 200, [0.2, 1], [3 / 4, 4 / 3]);
    if (fallback) {
      fallbacks++;
      assert.equal(box, { top: 0, left: 60, height: 60, width: 80 });
    } else {
      assert.ok(box.top >= 0 && box.left >= 0 && box.top + box.height <= 60 && box.left + box.width <= 200, 'box inside');
      const scale = (box.height * box.width) / (60 * 200);
      const ratio = box.width / box.height;
      assert.ok(scale >= 0.2 * 0.97 && scale <= 1 && ratio >= 0.75 * 0.97 && ratio <= (4 / 3) * 1.03, `scale ${scale}, ratio ${ratio}`);
    }
  }
  assert.ok(fallbacks > 50 && fallbacks < 450, `both outcomes occur (${fallbacks} fallbacks of 500)`);
  // A tall strip falls back to the width and height = round(w / (3/4)).
  const tall = randomResizedCrop(new Generator(1), 400, 6, [0.9, 1], [3 / 4, 4 / 3]);
  assert.ok(tall.fallback);
  assert.equal(tall.box, { top: Math.floor((400 - 8) / 2), left: 0, height: 8, width: 6 });
  assert.equal([0.5, 1.5, 2.5, 3.5, -0.4, 2.6].map(roundHalfEven), [0, 2, 2, 4, -0, 3]);
});

test('ColorJitter: an op of strength 0 draws nothing and does not run', () => {
  const seedValue = caseGenerator().nextU32();
  const g = new Generator(seedValue);
  const j = colorJitter(g, { brightness: 0.4, contrast: 0, saturation: 0.3, hue: 0 });
  // The same stream by hand: randperm(4), then brightness and saturation only.
  const h = new Generator(seedValue);
  const perm = Array.from(h.permutation(4), (i) => JITTER_OPS[i]!);
  const brightness = h.uniformRange(0.6, 1.4);
  const saturation = h.uniformRange(0.7, 1.3);
  assert.equal(j.order, perm.filter((op) => op === 'brightness' || op === 'saturation'));
  assert.equal([j.brightness, j.contrast, j.saturation, j.hue], [brightness, 1, saturation, 0]);
  assert.equal(g.getState(), h.getState(), 'no draws for the zero-strength ops');
});

test('bad input throws, naming augment and what was expected', () => {
  const b = randomBatch(caseGenerator(), 2, 8, 8);
  assertThrows(() => uploadImages(b.bytes, 3, 8, 8), 'uploadImages', '384 bytes', 'expected 576');
  const batch = uploadImages(b.bytes, 2, 8, 8);
  try {
    const ok = plain(0, full(b));
    assertThrows(() => augment(batch, [{ ...ok, source: 2 }], { size: 4 }), 'augment', 'params[0].source', '[0, 2)');
    assertThrows(() => augment(batch, [plain(0, { top: 4, left: 0, height: 5, width: 8 })], { size: 4 }), 'augment', 'crop', '8×8');
    assertThrows(() => augment(batch, [{ ...ok, blurSigma: 2.5 }], { size: 4 }), 'augment', 'blurSigma', '2.5');
    assertThrows(() => augment(batch, [ok], { size: 0 }), 'augment', 'size must be a positive integer');
    assertThrows(() => augment(batch, [ok], { size: 4, std: [1, 0, 1] }), 'augment', 'std must be 3 finite numbers > 0');
    assertThrows(() => augment(batch, [], { size: 4 }), 'augment', 'non-empty');
    const dup = { ...ok, jitter: { order: ['hue', 'hue'] as JitterOp[], brightness: 1, contrast: 1, saturation: 1, hue: 0 } };
    assertThrows(() => augment(batch, [dup], { size: 4 }), 'augment', 'distinct ops');
  } finally {
    batch.data.dispose();
  }
});

test.run();
