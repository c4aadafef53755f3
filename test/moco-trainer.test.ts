// The MoCo trainer end to end on a tiny ImageFolder: bad options refused before any work, exact
// resume (the losses after --resume equal an uninterrupted run's), a clean stop on SIGINT that
// saves a checkpoint, a NaN loss that stops training and keeps the last good checkpoint, and a
// truncated checkpoint refused.
import { appendFileSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyInPlace, full, Generator, liveTensorCount, SGD } from '../lib/index';
import { NonFiniteStateError, readCheckpoint, saveCheckpoint, type TrainingState } from '../moco/checkpoint';
import { main } from '../moco/cli';
import { resolveConfig, type ConfigOverrides, type MocoConfig } from '../moco/config';
import { loadImageFolder, type ImageDataset } from '../moco/data/cache';
import { sampleRoot } from '../moco/data/sample';
import { KnnEvaluator } from '../moco/evaluator';
import { MocoModel } from '../moco/model';
import type { Progress } from '../moco/progress';
import { NonFiniteLossError, Trainer, type Evaluator } from '../moco/trainer';
import { assertRejects, assertThrows } from './helpers/assert';
import './helpers/gpu';

const work = mkdtempSync(join(tmpdir(), 'wgtensor-moco-'));
const dataDir = join(work, 'data');

/** A small ImageFolder: 2 classes × 8 train and × 4 val images from the shipped sample. */
function makeTinyFolder(): void {
  const src = sampleRoot();
  for (const [split, count] of [['train', 8], ['val', 4]] as const) {
    const classes = readdirSync(join(src, split)).sort().slice(0, 2);
    for (const c of classes) {
      mkdirSync(join(dataDir, split, c), { recursive: true });
      for (const f of readdirSync(join(src, split, c)).sort().slice(0, count)) copyFileSync(join(src, split, c, f), join(dataDir, split, c, f));
    }
  }
}
makeTinyFolder();

let train: ImageDataset;
let val: ImageDataset;
const quiet: Progress = { start() {}, update() {}, stop() {} };

function tinyConfig(out: string, extra: ConfigOverrides = {}): MocoConfig {
  return resolveConfig(
    {
      data: dataDir,
      imageSize: 32,
      stem: 'imagenet',
      batchSize: 8,
      queueSize: 16,
      bnSplits: 2,
      epochs: 2,
      logEvery: 1,
      knnEvery: 1,
      knnK: 5,
      out,
      cacheDir: join(work, 'cache'),
      ...extra,
    },
    { trainSize: 16, numClasses: 2 },
  ).config;
}

function stepLosses(out: string): Map<number, number> {
  const lines = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step: number; loss: number });
  return new Map(lines.filter((l) => l.type === 'step').map((l) => [l.step, l.loss]));
}

/** The steps the last run handed to its loss plot. */
let plottedSteps: number[] = [];

async function runTrainer(config: MocoConfig, options: { resume?: string; stopAfterSteps?: number; progress?: Progress } = {}) {
  const knn = new KnnEvaluator(config, train, val);
  const evaluator: Evaluator = {
    knn: (model) => knn.knn(model),
    plots: (model, steps, history, initial) => {
      plottedSteps = steps.map((s) => s.step + 1);
      return knn.plots(model, steps, history, initial);
    },
  };
  const trainer = new Trainer(config, train, {
    log: () => {},
    progress: options.progress ?? quiet,
    evaluator,
    ...(options.resume ? { resume: options.resume } : {}),
    ...(options.stopAfterSteps !== undefined ? { stopAfterSteps: options.stopAfterSteps } : {}),
  });
  try {
    return await trainer.run();
  } finally {
    trainer.dispose();
  }
}

test('setup: cache the tiny data set', async () => {
  train = await loadImageFolder(dataDir, 'train', 32, { cacheDir: join(work, 'cache') });
  val = await loadImageFolder(dataDir, 'val', 32, { cacheDir: join(work, 'cache'), classes: train.classes });
  assert.is(train.count, 16);
  assert.is(val.count, 8);
});

test('bad options are refused before any work (exit code 2, nothing written)', async () => {
  const out = join(work, 'refused');
  const errors: string[] = [];
  const original = console.error;
  console.error = (m: string) => errors.push(String(m));
  try {
    const cases: [string[], RegExp][] = [
      [['train', '--bogus'], /bogus/],
      [['train', '--data', dataDir, '--batch-size', '8', '--moco-k', '20'], /moco-k 20 is not a multiple of the 8 keys/],
      [['train', '--data', join(work, 'missing')], /missing.*train/],
      [['train', '--data', dataDir, '--image-size', '16', '--stem', 'imagenet'], /image-size 16 is too small for the imagenet stem/],
      [['train', '--data', dataDir, '--epochs', 'ten'], /--epochs must be a number/],
      [['train', '--data', dataDir, '--batch-size', '8', '--bn-splits', '3'], /bn-splits 3 must divide the batch size 8/],
      [['train', '--preset', 'simclr'], /--preset must be one of mocov2, seed/],
      [['train', '--data', dataDir, '--checkpoint', 'x.safetensors'], /moco train does not take --checkpoint/],
      [['train', '--resume', join(work, 'none'), '--moco-k', '8'], /--resume takes every setting.*drop --moco-k/],
      [['eval', 'knn'], /needs --checkpoint/],
      // eval options are checked before the checkpoint is read (this one does not exist) or any data loads
      [['eval', 'knn', '--checkpoint', join(work, 'none.safetensors'), '--knn-k', 'abc'], /--knn-k must be a number/],
      [['eval', 'knn', '--checkpoint', join(work, 'none.safetensors'), '--knn-k', '0'], /--knn-k must be a positive integer/],
      [['eval', 'knn', '--checkpoint', join(work, 'none.safetensors'), '--lr', '5'], /moco eval knn does not take --lr/],
      [['eval', 'linear', '--checkpoint', join(work, 'none.safetensors'), '--label-fraction', '2'], /--label-fraction must be in \(0, 1\]/],
      [['prepare', '--data', dataDir, '--epochs', '3'], /moco prepare does not take --epochs/],
    ];
    for (const [args, pattern] of cases) {
      errors.length = 0;
      const code = await main(args[0] === 'train' && !args.includes('--resume') ? [...args, '--out', out] : args);
      assert.is(code, 2, `${args.join(' ')} → exit code`);
      assert.match(errors.join('\n'), pattern);
    }
  } finally {
    console.error = original;
  }
  assert.not.ok(existsSync(out), 'no run folder was created');
});

test('resume after an interruption gives the same losses as an uninterrupted run', async () => {
  const full = join(work, 'full');
  const parts = join(work, 'parts');
  const a = await runTrainer(tinyConfig(full));
  assert.is(a.state.epoch, 2);
  const first = await runTrainer(tinyConfig(parts), { stopAfterSteps: 3 }); // stops inside epoch 2
  assert.ok(first.stoppedEarly);
  assert.is(first.state.globalStep, 3);
  // As if the run had gone on past its checkpoint and crashed: lines for step 4 and epoch 2, and a
  // line cut short. The resume drops them (step 4 and epoch 2 are run again).
  const logPath = join(parts, 'log.jsonl');
  appendFileSync(logPath, '{"type":"step","step":4,"epoch":2,"loss":9,"lr":0.1}\n{"type":"epoch","epoch":2,"loss":9}\n{"type":"st');
  const b = await runTrainer(tinyConfig(parts), { resume: join(parts, 'checkpoint.safetensors') });
  assert.is(b.state.epoch, 2);
  const expected = stepLosses(full);
  const got = stepLosses(parts);
  assert.is(expected.size, 4);
  assert.equal([...got.keys()].sort(), [...expected.keys()].sort());
  for (const [step, loss] of expected) assert.is(got.get(step), loss, `loss of step ${step}`);
  const lines = readFileSync(logPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: number; epoch?: number });
  assert.equal(lines.filter((l) => l.type === 'step').map((l) => l.step), [1, 2, 3, 4], 'each step logged once');
  assert.equal(lines.filter((l) => l.type === 'epoch').map((l) => l.epoch), [1, 2], 'each epoch logged once');
  assert.equal(lines.filter((l) => l.type === 'resume').map((l) => l.step), [3]);
  assert.equal(plottedSteps, [1, 2, 3, 4], 'the loss plot after the resume has the steps from before it');
  // Another data set (here the 8 val images) is refused, before any weight or log changes.
  const logBefore = readFileSync(logPath, 'utf8');
  const other = new Trainer(tinyConfig(parts), val, { log: () => {}, progress: quiet, evaluator: new KnnEvaluator(tinyConfig(parts), val, val), resume: join(parts, 'checkpoint.safetensors') });
  try {
    await assertRejects(() => other.run(), '--resume', 'trained on 16 images of 2 classes', 'now has 8 images');
  } finally {
    other.dispose();
  }
  assert.is(readFileSync(logPath, 'utf8'), logBefore, 'the log is untouched');
  assert.equal(
    b.state.history.map((h) => [h.epoch, h.loss, h.knn]),
    a.state.history.map((h) => [h.epoch, h.loss, h.knn]),
    'epoch losses and kNN accuracies',
  );
});

/** Mean cosine similarity of distinct rows of a [K, dim] queue. */
function meanPairCosine(data: Float32Array, rows: number): number {
  const dim = data.length / rows;
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < rows; i++) {
    for (let j = i + 1; j < rows; j++) {
      let dot = 0;
      let ni = 0;
      let nj = 0;
      for (let d = 0; d < dim; d++) {
        dot += data[i * dim + d]! * data[j * dim + d]!;
        ni += data[i * dim + d]! ** 2;
        nj += data[j * dim + d]! ** 2;
      }
      sum += dot / Math.sqrt(ni * nj);
      pairs++;
    }
  }
  return sum / pairs;
}

test("--queue-init keys (the seed preset) fills the queue with the key encoder's keys before training", async () => {
  // Keys of natural images from one encoder point in similar directions; the official random queue's
  // rows are nearly orthogonal (dim 128). The fill writes K keys, so the pointer is back at 0.
  const filled = join(work, 'queue-keys');
  const random = join(work, 'queue-random');
  await runTrainer(tinyConfig(filled, { queueInit: 'keys' }), { stopAfterSteps: 1 });
  await runTrainer(tinyConfig(random), { stopAfterSteps: 1 });
  const keys = readCheckpoint(join(filled, 'checkpoint.safetensors'));
  const rand = readCheckpoint(join(random, 'checkpoint.safetensors'));
  const K = keys.meta.config.queueSize;
  assert.is(keys.meta.config.queueInit, 'keys');
  assert.is(keys.meta.state.ptr, 8, 'K keys filled (pointer back at 0), then one step of 8');
  // The step's own 8 keys went to rows 0–7; rows 8–15 are still what the queue started with.
  const startRows = (t: Float32Array) => t.subarray((t.length / K) * 8);
  const cosKeys = meanPairCosine(startRows(keys.file.tensors.get('queue')!.data), K - 8);
  const cosRandom = meanPairCosine(startRows(rand.file.tensors.get('queue')!.data), K - 8);
  // Measured: 0.54 and −0.004 (8 rows, 28 pairs; a random pair's cosine has sd ≈ 1/√dim).
  assert.ok(cosKeys > 0.3, `mean cosine of the filled queue's rows ${cosKeys.toFixed(3)}, expected > 0.3`);
  assert.ok(Math.abs(cosRandom) < 0.15, `mean cosine of the random queue's rows ${cosRandom.toFixed(3)}, expected near 0`);
});

test('SIGINT finishes the step, saves a checkpoint and stops; the run then resumes', async () => {
  const out = join(work, 'sigint');
  let sent = false;
  const progress: Progress = {
    start() {},
    update(done) {
      if (done > 0 && !sent) {
        sent = true;
        process.emit('SIGINT');
      }
    },
    stop() {},
  };
  const stopped = await runTrainer(tinyConfig(out), { progress });
  assert.ok(stopped.stoppedEarly);
  assert.is(readCheckpoint(join(out, 'checkpoint.safetensors')).meta.state.globalStep, stopped.state.globalStep);
  const resumed = await runTrainer(tinyConfig(out), { resume: out + '/checkpoint.safetensors' });
  assert.is(resumed.state.epoch, 2);
});

test('a NaN loss stops training with a clear error and keeps the last good checkpoint', async () => {
  const out = join(work, 'nan');
  const before = liveTensorCount();
  const error = await assertRejects(() => runTrainer(tinyConfig(out, { lr: 1e30 })), 'the loss became', 'last good checkpoint', '--resume', '--lr 5.0e+29');
  assert.instance(error, NonFiniteLossError);
  const kept = readCheckpoint(join(out, 'checkpoint.safetensors'));
  assert.is(kept.meta.state.globalStep, 0, 'the checkpoint is the one from before the bad steps');
  for (const [name, t] of kept.file.tensors) assert.ok(t.data.every(Number.isFinite), `${name} is finite`);
  assert.is(liveTensorCount(), before, 'the failed run freed its tensors');
  // What the message suggests: continue from that checkpoint with a lower base lr.
  const original = { log: console.log, write: process.stderr.write };
  const said: string[] = [];
  console.log = (m: string) => said.push(String(m));
  process.stderr.write = ((chunk: string | Uint8Array) => said.push(String(chunk)) > 0) as typeof process.stderr.write; // progress lines
  let code: number;
  try {
    code = await main(['train', '--resume', out, '--lr', '0.01']);
  } finally {
    console.log = original.log;
    process.stderr.write = original.write;
  }
  assert.is(code, 0, said.join('\n'));
  assert.ok(said.some((l) => l.includes('base lr 1e+30 → 0.01')), said.join('\n'));
  const resumed = readCheckpoint(join(out, 'checkpoint.safetensors'));
  assert.is(resumed.meta.config.lr, 0.01);
  assert.is(resumed.meta.state.epoch, 2);
  assert.ok(resumed.meta.state.history.every((h) => Number.isFinite(h.loss)), 'finite epoch losses after the resume');
});

test('a checkpoint holding NaN or Infinity is not written: the last good one stays on disk', async () => {
  const out = join(work, 'nonfinite');
  mkdirSync(out, { recursive: true });
  const config = tinyConfig(out);
  const model = new MocoModel(config, new Generator(1));
  const optimizer = new SGD(model.encoderQ.parameters(), { lr: 0.1, momentum: 0.9 });
  const state = { epoch: 0, batchInEpoch: 0, globalStep: 0, ptr: 0, loader: { epoch: 0, position: 0, order: [], generator: new Generator(2).getState() }, rng: new Generator(3).getState(), optimizerSteps: 0, epochLossSum: 0, history: [], initialKnn: null } as unknown as TrainingState;
  const path = join(out, 'checkpoint.safetensors');
  try {
    await saveCheckpoint(path, model, optimizer, config, state);
    const good = readFileSync(path);
    const [name, weight] = model.encoderK.namedParameters()[3]!;
    const inf = full(weight.shape, Infinity);
    copyInPlace(weight, inf);
    inf.dispose();
    const error = await assertRejects(() => saveCheckpoint(path, model, optimizer, config, state), `encoder_k.${name}[0] is Infinity`);
    assert.instance(error, NonFiniteStateError);
    assert.ok(readFileSync(path).equals(good), 'the checkpoint on disk is unchanged');
  } finally {
    optimizer.dispose();
    model.dispose();
  }
});

test('a truncated checkpoint, or one with a bit flipped in its data, is refused with a clear error', () => {
  const path = join(work, 'full', 'checkpoint.safetensors');
  const bytes = readFileSync(path);
  assert.ok(readCheckpoint(path).meta.dataHash, 'the checkpoint carries its data hash');
  const broken = join(work, 'broken.safetensors');
  writeFileSync(broken, bytes.subarray(0, bytes.length - 1000));
  assertThrows(() => readCheckpoint(broken), 'corrupt or truncated');
  // One bit of one float in the middle of the data region (the header stays valid).
  const flipped = Uint8Array.from(bytes);
  const at = flipped.length - Math.floor((flipped.length - 8 - Number(new DataView(flipped.buffer).getBigUint64(0, true))) / 2);
  flipped[at]! ^= 0x10;
  writeFileSync(broken, flipped);
  assertThrows(() => readCheckpoint(broken), 'is corrupt', 'does not match the hash');
});

test('cleanup', () => rmSync(work, { recursive: true, force: true }));

test.run();
