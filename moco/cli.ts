// moco: train MoCo-v2 on an ImageFolder (default: the shipped Imagenette sample) and evaluate it.
//   moco train [options]          moco prepare [options]
//   moco eval knn --checkpoint F  moco eval linear --checkpoint F [--label-fraction 0.1]
// Every option is checked before any work starts; `moco help` lists them.
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Generator, hasContext, initNode, shutdown, withPrefix } from '../lib/node';
import { readCheckpoint } from './checkpoint';
import { checkBatchFits, ConfigError, extractionBatch, PRESETS, resolveConfig, SAMPLE_RECIPE, type ConfigOverrides, type DatasetFacts, type MocoConfig, type PresetName } from './config';
import { loadImageFolder, type ImageDataset } from './data/cache';
import { scanImageFolder } from './data/image-folder';
import { sampleRoot } from './data/sample';
import { knnClassify, extractFeatures, linearEval } from './eval/index';
import { KnnEvaluator } from './evaluator';
import { buildEncoder } from './model';
import { createProgress } from './progress';
import { NonFiniteLossError, Trainer } from './trainer';

const HELP = `moco — MoCo-v2 self-supervised training of ResNet-18 on WebGPU

usage:
  moco train [options]                 train (default: the shipped Imagenette sample at 64 px)
  moco prepare [--data DIR] [--image-size N]   decode and cache the images once
  moco eval knn --checkpoint FILE      kNN top-1 of a checkpoint's query encoder
  moco eval linear --checkpoint FILE   linear evaluation (frozen backbone) [--label-fraction F]

data:
  --data DIR            ImageFolder root with train/<class>/* and val/<class>/* (default: shipped sample,
                        with short-run defaults: ${SAMPLE_RECIPE.epochs} epochs, batch ${SAMPLE_RECIPE.mocov2.batchSize}, lr ${SAMPLE_RECIPE.mocov2.lr}, τ ${SAMPLE_RECIPE.mocov2.temperature}, K ${SAMPLE_RECIPE.mocov2.queueSize},
                        crops ${SAMPLE_RECIPE.mocov2.cropMin}–1, no blur, kNN every ${SAMPLE_RECIPE.knnEvery} epochs; options given win)
  --image-size N        images are resized to N×N (default 64)
  --cache-dir DIR       where decoded images are cached (default .cache)
model and MoCo (defaults from --preset):
  --preset NAME         mocov2 (default: official v2 recipe) or seed (the 2020 article's recipe)
  --stem NAME           cifar (3×3 conv, no max-pool) or imagenet; default cifar up to 32 px
  --head W1,W2          hidden widths of the projection head (mocov2: 512; seed: 100,50; "" for none)
  --moco-dim N  --moco-k N  --moco-m F  --moco-t F
  --symmetric           symmetric loss (both crops as query and key)
  --bn-splits N         ghost-batch BatchNorm groups (Shuffle-BN on one device)
  --queue-init NAME     random (official) or keys (fill with real keys first)
optimisation:
  --epochs N  --batch-size N  --lr F  --min-lr F  --wd F  --optimizer sgd|adam  --schedule-by epoch|step
augmentation:
  --crop-min F          RandomResizedCrop's smallest scale (default 0.2)
  --blur-p F            Gaussian blur probability (default 0.5)
monitoring and run:
  --knn-every N  --knn-k N  --knn-t F  --knn-features backbone|head
  --out DIR             run folder: log.jsonl, checkpoint.safetensors, plots (default runs/moco)
  --resume FILE|DIR     continue a run from its checkpoint (its options; --lr F may change the base lr)
  --force               start over in an --out folder that already holds a run
  --checkpoint-minutes F  also save every F minutes (default 10)
  --log-every N         read the loss back every N steps (default 10)
  --seed N
eval:
  --checkpoint FILE  --label-fraction F  --lr F  --epochs N  --batch-size N
`;

const OPTIONS = {
  data: { type: 'string' },
  'image-size': { type: 'string' },
  'cache-dir': { type: 'string' },
  preset: { type: 'string' },
  stem: { type: 'string' },
  head: { type: 'string' },
  'moco-dim': { type: 'string' },
  'moco-k': { type: 'string' },
  'moco-m': { type: 'string' },
  'moco-t': { type: 'string' },
  symmetric: { type: 'boolean' },
  'bn-splits': { type: 'string' },
  'queue-init': { type: 'string' },
  epochs: { type: 'string' },
  'batch-size': { type: 'string' },
  lr: { type: 'string' },
  'min-lr': { type: 'string' },
  wd: { type: 'string' },
  optimizer: { type: 'string' },
  'schedule-by': { type: 'string' },
  'crop-min': { type: 'string' },
  'blur-p': { type: 'string' },
  'knn-every': { type: 'string' },
  'knn-k': { type: 'string' },
  'knn-t': { type: 'string' },
  'knn-features': { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'string' },
  force: { type: 'boolean' },
  'checkpoint-minutes': { type: 'string' },
  'log-every': { type: 'string' },
  seed: { type: 'string' },
  checkpoint: { type: 'string' },
  'label-fraction': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseCommandLine>['values'];

/** The options each command reads; any other option given is refused (not silently ignored). */
const EVAL_SHARED = ['checkpoint', 'data', 'cache-dir'];
const COMMAND_OPTIONS: Record<string, readonly string[]> = {
  train: Object.keys(OPTIONS).filter((k) => k !== 'checkpoint' && k !== 'label-fraction'),
  prepare: ['data', 'image-size', 'cache-dir'],
  'eval knn': [...EVAL_SHARED, 'knn-k', 'knn-t', 'knn-features'],
  'eval linear': [...EVAL_SHARED, 'label-fraction', 'lr', 'epochs', 'batch-size', 'seed'],
};

function refuseOthers(command: string, v: Values): void {
  const allowed = COMMAND_OPTIONS[command]!;
  const other = Object.keys(v).filter((k) => k !== 'help' && !allowed.includes(k));
  if (other.length) throw new UsageError(`moco ${command} does not take --${other.join(', --')} (it reads --${allowed.join(', --')})`);
}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.replace(/^.*?: /, '')}\nrun \`moco help\` for the options`);
  }
}

class UsageError extends Error {}

function num(values: Values, name: keyof Values): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(v)) throw new UsageError(`--${name} must be a number, got "${String(raw)}"`);
  return v;
}

function oneOf<T extends string>(values: Values, name: keyof Values, allowed: readonly T[]): T | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (!allowed.includes(raw as T)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${String(raw)}"`);
  return raw as T;
}

function overridesFrom(v: Values): ConfigOverrides {
  const o: ConfigOverrides = {};
  const set = <K extends keyof ConfigOverrides>(key: K, value: ConfigOverrides[K] | undefined) => {
    if (value !== undefined) o[key] = value;
  };
  set('preset', oneOf(v, 'preset', Object.keys(PRESETS) as PresetName[]));
  set('data', v.data);
  set('imageSize', num(v, 'image-size'));
  set('cacheDir', v['cache-dir']);
  set('stem', oneOf(v, 'stem', ['cifar', 'imagenet'] as const));
  if (v.head !== undefined) o.headHidden = v.head.trim() === '' ? [] : v.head.split(',').map((s) => Number(s.trim()));
  set('dim', num(v, 'moco-dim'));
  set('queueSize', num(v, 'moco-k'));
  set('momentum', num(v, 'moco-m'));
  set('temperature', num(v, 'moco-t'));
  set('symmetric', v.symmetric);
  set('bnSplits', num(v, 'bn-splits'));
  set('queueInit', oneOf(v, 'queue-init', ['random', 'keys'] as const));
  set('epochs', num(v, 'epochs'));
  set('batchSize', num(v, 'batch-size'));
  set('lr', num(v, 'lr'));
  set('minLr', num(v, 'min-lr'));
  set('weightDecay', num(v, 'wd'));
  set('optimizer', oneOf(v, 'optimizer', ['sgd', 'adam'] as const));
  set('scheduleBy', oneOf(v, 'schedule-by', ['epoch', 'step'] as const));
  set('knnEvery', num(v, 'knn-every'));
  set('knnK', num(v, 'knn-k'));
  set('knnT', num(v, 'knn-t'));
  set('knnFeatures', oneOf(v, 'knn-features', ['backbone', 'head'] as const));
  set('out', v.out);
  set('checkpointMinutes', num(v, 'checkpoint-minutes'));
  set('logEvery', num(v, 'log-every'));
  set('seed', num(v, 'seed'));
  const cropMin = num(v, 'crop-min');
  const blurP = num(v, 'blur-p');
  if (cropMin !== undefined && !(cropMin > 0 && cropMin <= 1)) throw new UsageError(`--crop-min must be in (0, 1], got ${cropMin}`);
  if (blurP !== undefined && !(blurP >= 0 && blurP <= 1)) throw new UsageError(`--blur-p must be in [0, 1], got ${blurP}`);
  if (cropMin !== undefined || blurP !== undefined) {
    o.augment = {};
    if (cropMin !== undefined) o.augment.scale = [cropMin, 1];
    if (blurP !== undefined) o.augment.blurP = blurP;
  }
  return o;
}

function dataRoot(data: string | null | undefined): string {
  const root = resolve(data ?? sampleRoot());
  for (const split of ['train', 'val']) {
    const dir = join(root, split);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new UsageError(`--data ${root}: ${dir} is missing; expected an ImageFolder tree with train/<class>/* and val/<class>/*`);
    }
  }
  return root;
}

async function loadSplits(root: string, size: number, cacheDir: string, log: (s: string) => void): Promise<{ train: ImageDataset; val: ImageDataset }> {
  const progress = createProgress();
  const load = async (split: string, classes?: string[]) => {
    let started = false;
    const data = await loadImageFolder(root, split, size, {
      cacheDir,
      log,
      ...(classes ? { classes } : {}),
      onProgress: (p) => {
        if (!started) {
          progress.start(p.total, `decoding ${split}`);
          started = true;
        }
        progress.update(p.done, { skipped: String(p.skipped) });
      },
    });
    if (started) progress.stop();
    if (data.skipped.length > 0) log(`data: ${data.skipped.length} unreadable ${split} images were skipped (first: ${data.skipped[0]!.rel}: ${data.skipped[0]!.reason})`);
    return data;
  };
  const train = await load('train');
  const val = await load('val', train.classes);
  return { train, val };
}

function describe(c: MocoConfig, root: string, train: ImageDataset, val: ImageDataset): string {
  return [
    `data: ${root} (${train.count} train, ${val.count} val, ${train.classes.length} classes) at ${c.imageSize}px`,
    `model: ResNet-18 (${c.stem} stem), head 512→${[...c.headHidden, c.dim].join('→')}`,
    `MoCo: K ${c.queueSize}, m ${c.momentum}, τ ${c.temperature}, ${c.symmetric ? 'symmetric' : 'asymmetric'} loss, BN splits ${c.bnSplits}, queue ${c.queueInit}`,
    `optimiser: ${c.optimizer} lr ${c.lr} → ${c.minLr} (cosine per ${c.scheduleBy}), wd ${c.weightDecay}, batch ${c.batchSize}, ${c.epochs} epochs`,
    `run folder: ${c.out}`,
  ].join('\n');
}

async function train(v: Values): Promise<void> {
  refuseOthers('train', v);
  const log = (s: string) => console.log(s);
  let config: MocoConfig;
  let resumePath: string | undefined;
  let newRun: { overrides: ConfigOverrides; facts: DatasetFacts } | null = null;
  if (v.resume !== undefined) {
    resumePath = existsSync(v.resume) && statSync(v.resume).isDirectory() ? join(v.resume, 'checkpoint.safetensors') : v.resume;
    const given = Object.keys(v).filter((k) => !['resume', 'data', 'cache-dir', 'lr'].includes(k));
    if (given.length) throw new UsageError(`--resume takes every setting from the checkpoint (but --data, --cache-dir and --lr); drop --${given.join(', --')}`);
    const lr = num(v, 'lr');
    if (lr !== undefined && !(lr > 0)) throw new UsageError(`--lr must be > 0, got ${lr}`);
    config = readCheckpoint(resumePath).meta.config;
    if (v.data !== undefined) config = { ...config, data: v.data };
    if (v['cache-dir'] !== undefined) config = { ...config, cacheDir: v['cache-dir'] };
    if (lr !== undefined && lr !== config.lr) {
      log(`note: base lr ${config.lr} → ${lr} from here on (the ${config.scheduleBy} cosine schedule continues where it was, scaled to the new base)`);
      config = { ...config, lr };
    }
    config = { ...config, out: dirname(resumePath) };
  } else {
    const overrides = overridesFrom(v);
    const root = dataRoot(overrides.data);
    const scan = scanImageFolder(root, 'train');
    newRun = { overrides, facts: { trainSize: scan.files.length, numClasses: scan.classes.length } };
    config = resolveConfig(overrides, newRun.facts).config; // refuses bad options before the GPU starts
    if (existsSync(join(config.out, 'checkpoint.safetensors')) && !v.force) {
      throw new UsageError(`${config.out} already holds a run: continue it with --resume ${config.out}, or start over with --force (or pick another --out)`);
    }
  }
  const ctx = await initNode();
  const maxBindingBytes = ctx.limits.maxStorageBufferBindingSize;
  if (newRun) {
    // Again with the device's binding limit, which can lower the default batch.
    const resolved = resolveConfig(newRun.overrides, { ...newRun.facts, maxBindingBytes });
    config = resolved.config;
    for (const note of resolved.notes) log(`note: ${note}`);
  } else {
    checkBatchFits(config, maxBindingBytes); // the run may come from a device that binds more
  }
  const root = dataRoot(config.data);
  const { train: trainSet, val } = await loadSplits(root, config.imageSize, config.cacheDir, log);
  log(`device: ${ctx.adapter.description || ctx.adapter.device}`);
  log(describe(config, root, trainSet, val));
  const progress = createProgress();
  // kNN feature extraction can take minutes on a large data set: show it like an epoch.
  const knnProgress = createProgress();
  let knnLabel = '';
  const evaluator = new KnnEvaluator(config, trainSet, val, (label, done, total) => {
    if (label !== knnLabel) {
      knnLabel = label;
      knnProgress.start(total, label);
    }
    knnProgress.update(done, {});
    if (done >= total) {
      knnProgress.stop();
      knnLabel = '';
    }
  });
  const trainer = new Trainer(config, trainSet, { log, progress, evaluator, ...(resumePath ? { resume: resumePath } : {}) });
  try {
    const result = await trainer.run();
    const last = [...result.state.history].reverse().find((h) => h.knn !== undefined);
    if (!result.stoppedEarly) {
      log(`done: ${result.state.epoch} epochs; checkpoint ${result.checkpoint}; log ${join(config.out, 'log.jsonl')}; plots in ${config.out}`);
    }
    if (result.state.initialKnn !== null && last?.knn !== undefined) {
      log(`kNN top-1: random-init encoder ${result.state.initialKnn.toFixed(2)}% → trained (epoch ${last.epoch}) ${last.knn.toFixed(2)}%`);
    }
  } finally {
    trainer.dispose();
  }
}

async function prepare(v: Values): Promise<void> {
  refuseOthers('prepare', v);
  const overrides = overridesFrom(v);
  const root = dataRoot(overrides.data);
  const size = overrides.imageSize ?? 64;
  if (!Number.isInteger(size) || size <= 0) throw new UsageError(`--image-size must be a positive integer, got ${size}`);
  const { train: t, val } = await loadSplits(root, size, overrides.cacheDir ?? '.cache', (s) => console.log(s));
  console.log(`ready: ${t.count} train and ${val.count} val images at ${size}px (${t.cacheFile}, ${val.cacheFile})`);
}

async function evaluate(kind: string | undefined, v: Values): Promise<void> {
  if (kind !== 'knn' && kind !== 'linear') throw new UsageError('usage: moco eval knn|linear --checkpoint FILE');
  refuseOthers(`eval ${kind}`, v);
  if (!v.checkpoint) throw new UsageError(`moco eval ${kind} needs --checkpoint FILE`);
  // Every option is read and checked before the data load and the feature passes.
  const positiveInt = (name: keyof Values) => {
    const x = num(v, name);
    if (x !== undefined && !(Number.isInteger(x) && x > 0)) throw new UsageError(`--${name} must be a positive integer, got ${x}`);
    return x;
  };
  const knnK = positiveInt('knn-k');
  const knnT = num(v, 'knn-t');
  if (knnT !== undefined && !(knnT > 0)) throw new UsageError(`--knn-t must be > 0, got ${knnT}`);
  const knnFeatures = oneOf(v, 'knn-features', ['backbone', 'head'] as const);
  const fraction = num(v, 'label-fraction') ?? 1;
  if (!(fraction > 0 && fraction <= 1)) throw new UsageError(`--label-fraction must be in (0, 1], got ${fraction}`);
  const linearLr = num(v, 'lr');
  if (linearLr !== undefined && !(linearLr > 0)) throw new UsageError(`--lr must be > 0, got ${linearLr}`);
  const linearEpochs = positiveInt('epochs');
  const linearBatch = positiveInt('batch-size');
  const seed = num(v, 'seed');
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0)) throw new UsageError(`--seed must be a non-negative integer, got ${seed}`);
  const loaded = readCheckpoint(v.checkpoint);
  const c = { ...loaded.meta.config, ...(v.data !== undefined ? { data: v.data } : {}), ...(v['cache-dir'] !== undefined ? { cacheDir: v['cache-dir'] } : {}) };
  const root = dataRoot(c.data);
  const { train: trainSet, val } = await loadSplits(root, c.imageSize, c.cacheDir, (s) => console.log(s));
  const ctx = await initNode();
  const extractBatch = extractionBatch(c, ctx.limits.maxStorageBufferBindingSize);
  const encoder = buildEncoder(c, new Generator(0));
  encoder.loadStateDict(withPrefix(loaded.file.tensors, 'encoder_q.'));
  const epoch = loaded.meta.state.epoch;
  if (kind === 'knn') {
    const features = knnFeatures ?? c.knnFeatures;
    const extract = { features, batchSize: extractBatch };
    const bank = await extractFeatures(encoder, trainSet.images, trainSet.count, trainSet.size, extract);
    const queries = await extractFeatures(encoder, val.images, val.count, val.size, extract);
    const r = await knnClassify(
      { features: bank, labels: trainSet.labels },
      { features: queries, labels: val.labels },
      bank.length / trainSet.count,
      { k: knnK ?? c.knnK, t: knnT ?? c.knnT, numClasses: trainSet.classes.length },
    );
    console.log(`kNN top-1 (k ${r.k}, ${features} features) after epoch ${epoch}: ${r.top1.toFixed(2)}%`);
  } else {
    const r = await linearEval(encoder, trainSet, val, {
      labelFraction: fraction,
      extract: { batchSize: extractBatch },
      ...(linearLr !== undefined ? { lr: linearLr } : {}),
      ...(linearEpochs !== undefined ? { epochs: linearEpochs } : {}),
      ...(linearBatch !== undefined ? { batchSize: linearBatch } : {}),
      ...(seed !== undefined ? { seed, subsetSeed: seed } : {}),
    });
    const used = r.subset ? r.subset.length : trainSet.count;
    console.log(`linear evaluation after epoch ${epoch}: top-1 ${r.top1.toFixed(2)}% on val (trained on ${used} labelled images, ${(fraction * 100).toFixed(0)}%)`);
  }
  encoder.dispose();
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const ownsContext = !hasContext(); // a caller that set up the GPU (a test) keeps it
  try {
    const { values, positionals } = parseCommandLine(argv);
    const [command, sub, ...rest] = positionals;
    if (values.help || command === undefined || command === 'help') {
      console.log(HELP);
      return 0;
    }
    if (rest.length || (command !== 'eval' && sub !== undefined)) throw new UsageError(`unexpected argument "${rest[0] ?? sub}"`);
    if (command === 'train') await train(values);
    else if (command === 'prepare') await prepare(values);
    else if (command === 'eval') await evaluate(sub, values);
    else throw new UsageError(`unknown command "${command}"; expected train, prepare or eval`);
  } catch (error) {
    code = error instanceof UsageError || error instanceof ConfigError ? 2 : 1;
    const message = error instanceof Error ? error.message : String(error);
    console.error(`moco: ${message.replace(/^moco: /, '')}`);
    if (!(error instanceof UsageError || error instanceof NonFiniteLossError) && process.env.MOCO_DEBUG) console.error(error);
  } finally {
    if (ownsContext) shutdown();
  }
  return code;
}

const invokedDirectly = process.argv[1] && /moco(\.js|\.ts|\/cli\.ts)?$|cli\.ts$/.test(process.argv[1]);
if (invokedDirectly) main(process.argv.slice(2)).then((code) => process.exit(code));
