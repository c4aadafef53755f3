// The trainer's configuration: presets, defaults that depend on the data, the shipped sample's
// short-run defaults, and the checks that refuse a bad configuration. CPU only.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, defaultBnSplits, largestBindingPerImage, maxBatchFor, PRESETS, resolveConfig, SAMPLE_RECIPE } from '../moco/config';
import { assertThrows } from './helpers/assert';

const sample = { trainSize: 500, numClasses: 10 };
const imagenette = { trainSize: 9469, numClasses: 10 };

test('no --data: the shipped sample gets the short-run recipe, and options given still win', () => {
  const { config, notes } = resolveConfig({}, sample);
  const r = SAMPLE_RECIPE.mocov2;
  assert.is(config.epochs, SAMPLE_RECIPE.epochs);
  assert.is(config.knnEvery, SAMPLE_RECIPE.knnEvery);
  assert.is(config.batchSize, r.batchSize);
  assert.is(config.queueSize, r.queueSize);
  assert.is(config.temperature, r.temperature);
  assert.is(config.lr, r.lr);
  assert.equal(config.augment.scale, [r.cropMin, 1]);
  assert.is(config.augment.blurP, r.blurP);
  assert.ok(notes.some((n) => n.startsWith('shipped sample')), notes.join('\n'));

  const given = resolveConfig({ epochs: 3, batchSize: 8, queueSize: 32, lr: 0.1, augment: { blurP: 0.5 } }, sample).config;
  assert.equal([given.epochs, given.batchSize, given.queueSize, given.lr, given.augment.blurP], [3, 8, 32, 0.1, 0.5]);
  assert.is(given.augment.scale[0], r.cropMin);
});

test('the sample recipe is a default like the preset: the data, device and symmetric rules still apply to it', () => {
  // a batch given on the sample: K follows it, the lr scales with it (0.03 at batch 16)
  const big = resolveConfig({ batchSize: 128 }, sample).config;
  assert.is(big.queueSize, 128);
  assert.is(big.lr, 0.03 * 8);
  // symmetric: K is a whole number of steps of 2·batch keys
  assert.is(resolveConfig({ batchSize: 64, symmetric: true }, sample).config.queueSize, 128);
  assert.is(resolveConfig({ symmetric: true }, sample).config.queueSize, 64);
  // a large image on a small device lowers the sample's default batch instead of refusing it
  const large = resolveConfig({ imageSize: 512 }, { ...sample, maxBindingBytes: 128 * 2 ** 20 });
  assert.is(large.config.batchSize, 8);
  assert.ok(large.notes.some((n) => n.includes('batch size 8, not 16')), large.notes.join('\n'));
});

test('--preset seed on the sample keeps its own recipe and only gets the short epoch count', () => {
  const { config } = resolveConfig({ preset: 'seed' }, sample);
  assert.is(config.epochs, SAMPLE_RECIPE.epochs);
  assert.is(config.temperature, PRESETS.seed.temperature);
  assert.is(config.optimizer, 'adam');
  assert.is(config.augment.blurP, 0.5);
});

test('--data: the official recipe, with batch and K capped by the data set size', () => {
  const full = resolveConfig({ data: '/data/imagenette' }, imagenette).config;
  assert.is(full.epochs, PRESETS.mocov2.epochs);
  assert.is(full.batchSize, 256);
  assert.is(full.queueSize, 4096);
  assert.is(full.temperature, 0.2);
  assert.is(full.lr, 0.03);
  assert.is(full.augment.blurP, 0.5);
  const small = resolveConfig({ data: '/data/small' }, { trainSize: 500, numClasses: 10 });
  assert.is(small.config.batchSize, 32);
  assert.is(small.config.queueSize, 224);
  assert.is(small.config.lr, (0.03 * 32) / 256);
  assert.ok(small.notes.some((n) => n.includes('queue K 224')), small.notes.join('\n'));
});

test('the default BN splits divide any batch: batch / 8 groups, at most 8, lowered to a divisor', () => {
  const expected: [number, number][] = [[4, 1], [8, 1], [12, 1], [16, 2], [20, 2], [24, 3], [32, 4], [36, 4], [44, 4], [48, 6], [56, 7], [64, 8], [100, 5], [256, 8], [258, 6]];
  for (const [batch, splits] of expected) {
    assert.is(defaultBnSplits(batch), splits, `batch ${batch}`);
    // and the whole config accepts it (a batch that is not a multiple of 8 used to get a fraction)
    const k = batch * 4;
    assert.is(resolveConfig({ data: '/d', batchSize: batch, queueSize: k }, imagenette).config.bnSplits, splits, `config at batch ${batch}`);
  }
});

test('bad values are refused with a ConfigError naming the option', () => {
  assert.instance(assertThrows(() => resolveConfig({ data: '/d', lr: -1 }, imagenette), '--lr must be > 0'), ConfigError);
  assertThrows(() => resolveConfig({ data: '/d', batchSize: 32, queueSize: 100 }, imagenette), '--moco-k 100', 'multiple of the 32');
  assertThrows(() => resolveConfig({ data: '/d', imageSize: 16, stem: 'imagenet' }, imagenette), '--image-size 16', 'imagenet stem');
  assertThrows(() => resolveConfig({ data: '/d', temperature: 0 }, imagenette), '--moco-t');
  assertThrows(() => resolveConfig({ data: '/d', batchSize: 16, bnSplits: 3 }, imagenette), '--bn-splits 3');
});

test("the batch fits the device's binding limit: a default is lowered (lr scaled), a given one refused", () => {
  const mib128 = 128 * 2 ** 20; // lavapipe's maxStorageBufferBindingSize
  // imagenet stem at 128 px: conv1's output is 64×64×64 floats = 1 MiB an image
  assert.is(largestBindingPerImage('imagenet', 128), 2 ** 20);
  assert.is(maxBatchFor('imagenet', 128, mib128), 128);
  assert.is(maxBatchFor('imagenet', 224, mib128), 32);
  assert.is(largestBindingPerImage('cifar', 32), 64 * 34 * 34 * 4);
  const { config, notes } = resolveConfig({ data: '/d', imageSize: 128 }, { ...imagenette, maxBindingBytes: mib128 });
  assert.is(config.batchSize, 128);
  assert.is(config.lr, (0.03 * 128) / 256);
  assert.ok(notes.some((n) => n.includes('batch size 128, not 256') && n.includes('128 MiB')), notes.join('\n'));
  assertThrows(
    () => resolveConfig({ data: '/d', imageSize: 128, batchSize: 256 }, { ...imagenette, maxBindingBytes: mib128 }),
    '--batch-size 256 at 128 px',
    'use --batch-size 128 or less',
  );
  // without a known limit (or where it is large enough) the recipe's batch stays
  assert.is(resolveConfig({ data: '/d', imageSize: 128 }, imagenette).config.batchSize, 256);
  assert.is(resolveConfig({ data: '/d', imageSize: 64 }, { ...imagenette, maxBindingBytes: mib128 }).config.batchSize, 256);
});

test.run();
