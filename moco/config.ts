// The trainer's configuration: the two presets of the issue, the options that override them, and
// the checks that refuse a bad configuration before any work starts.
import { MOCO_V2_AUGMENT, type AugmentConfig } from './augment/params';

export type PresetName = 'mocov2' | 'seed';

export interface MocoConfig {
  preset: PresetName;
  /** ImageFolder root; null = the shipped Imagenette sample. */
  data: string | null;
  imageSize: number;
  stem: 'cifar' | 'imagenet';
  /** Hidden widths of the projection head (512 → ...hidden → dim, ReLU between); [] = one Linear. */
  headHidden: number[];
  dim: number;
  /** Queue length K (a multiple of the batch size). */
  queueSize: number;
  /** Key-encoder momentum m. */
  momentum: number;
  temperature: number;
  symmetric: boolean;
  /** Ghost-batch BN groups in both encoders (emulates per-GPU BN); keys are also shuffled. */
  bnSplits: number;
  /** 'random': randn rows normalised (official); 'keys': filled with real keys before training (seed). */
  queueInit: 'random' | 'keys';
  optimizer: 'sgd' | 'adam';
  lr: number;
  /** Final learning rate of the cosine schedule. */
  minLr: number;
  /** 'epoch': lr changes once per epoch (official MoCo); 'step': every step. */
  scheduleBy: 'epoch' | 'step';
  sgdMomentum: number;
  weightDecay: number;
  batchSize: number;
  epochs: number;
  augment: AugmentConfig;
  knnEvery: number;
  knnK: number;
  knnT: number;
  /** Features used for kNN and plots: the 512-d backbone or the head's output. */
  knnFeatures: 'backbone' | 'head';
  seed: number;
  out: string;
  cacheDir: string;
  checkpointMinutes: number;
  /** Read the loss back every this many steps (for the progress display and the NaN check). */
  logEvery: number;
}

/** Values a preset fixes; the rest come from the data (see resolveConfig). */
interface Preset {
  headHidden: number[];
  dim: number;
  queueSize: number;
  momentum: number;
  temperature: number;
  queueInit: 'random' | 'keys';
  optimizer: 'sgd' | 'adam';
  /** Learning rate at batch 256 (scaled linearly with the batch for SGD). */
  lr256: number;
  minLr: number;
  scheduleBy: 'epoch' | 'step';
  weightDecay: number;
  batchSize: number;
  epochs: number;
}

export const PRESETS: Record<PresetName, Preset> = {
  // Official MoCo v2 (--mlp --moco-t 0.2 --aug-plus --cos), with K 4096 and m 0.99 as lightly and the
  // official CIFAR demo use for ~10k-image datasets.
  mocov2: {
    headHidden: [512],
    dim: 128,
    queueSize: 4096,
    momentum: 0.99,
    temperature: 0.2,
    queueInit: 'random',
    optimizer: 'sgd',
    lr256: 0.03,
    minLr: 0,
    scheduleBy: 'epoch',
    weightDecay: 1e-4,
    batchSize: 256,
    epochs: 200,
  },
  // The seed article (Analytics Vidhya, 2020): head 512→100→50→25, τ 0.05, K 8192, m 0.999, batch 256,
  // Adam lr 1e-3 decaying to 1e-5, weight decay 1e-6, queue pre-filled with real keys.
  seed: {
    headHidden: [100, 50],
    dim: 25,
    queueSize: 8192,
    momentum: 0.999,
    temperature: 0.05,
    queueInit: 'keys',
    optimizer: 'adam',
    lr256: 1e-3,
    minLr: 1e-5,
    scheduleBy: 'step',
    weightDecay: 1e-6,
    batchSize: 256,
    epochs: 200,
  },
};

/**
 * Defaults for the shipped 500-image sample (no --data). `npm run train` must finish in under 10
 * minutes on 2 cores with lavapipe (~32 images/s at 64 px: 5 min in all) and still learn visibly,
 * which the 200-epoch recipe cannot: the run is cut to 18 epochs and, with mocov2, the recipe is
 * adapted to a short run on tiny images — a smaller batch (more steps), a higher lr, τ 0.1, a short
 * queue, milder crops and no blur (64 px images are soft already). Options given still win.
 */
export const SAMPLE_RECIPE = {
  epochs: 18,
  knnEvery: 6,
  mocov2: { batchSize: 16, lr: 0.03, temperature: 0.1, queueSize: 64, cropMin: 0.3, blurP: 0 },
};

/**
 * The preset for this run, and the overrides: on the shipped sample (no --data) the short-run
 * recipe replaces the preset's values (so the data- and device-dependent defaults below still
 * apply, and the lr still scales with the batch); options given still win.
 */
function presetFor(o: ConfigOverrides, notes: string[]): { o: ConfigOverrides; preset: Preset } {
  const preset = PRESETS[o.preset ?? 'mocov2'];
  if (o.data !== undefined && o.data !== null) return { o, preset };
  const r = SAMPLE_RECIPE;
  const filled: ConfigOverrides = { ...o, knnEvery: o.knnEvery ?? r.knnEvery };
  let adjusted: Preset = { ...preset, epochs: r.epochs };
  let recipe = '';
  if ((o.preset ?? 'mocov2') === 'mocov2') {
    const m = r.mocov2;
    adjusted = { ...adjusted, batchSize: m.batchSize, lr256: (m.lr * 256) / m.batchSize, temperature: m.temperature, queueSize: m.queueSize };
    filled.augment = { scale: [m.cropMin, 1], blurP: m.blurP, ...o.augment };
    recipe = `, batch ${m.batchSize}, lr ${m.lr} at that batch, τ ${m.temperature}, K ${m.queueSize}, crops ${m.cropMin}–1, no blur`;
  }
  notes.push(`shipped sample: short-run defaults (${r.epochs} epochs${recipe}; options given win); --data DIR for a real data set`);
  return { o: filled, preset: adjusted };
}

/** Options as given on the command line (undefined = not given). */
export type ConfigOverrides = Partial<Omit<MocoConfig, 'augment'>> & { augment?: Partial<AugmentConfig> };

export interface DatasetFacts {
  trainSize: number;
  numClasses: number;
  /** The device's maxStorageBufferBindingSize: no tensor may be larger (lavapipe: 128 MiB). */
  maxBindingBytes?: number;
}

/**
 * Bytes per image of ResNet-18's largest GPU binding at this input size: with the imagenet stem
 * conv1's output (64 × (s/2)² floats; also the size of its dW operand); with the cifar stem the
 * zero-padded copy of layer1's input that its convolutions read (64 × (s+2)² floats).
 */
export function largestBindingPerImage(stem: 'cifar' | 'imagenet', imageSize: number): number {
  const side = stem === 'imagenet' ? Math.ceil(imageSize / 2) : imageSize + 2;
  return 64 * side * side * 4;
}

/** The largest batch (a power of two) whose every binding fits in `maxBindingBytes`. */
export function maxBatchFor(stem: 'cifar' | 'imagenet', imageSize: number, maxBindingBytes: number): number {
  return Math.max(1, pow2Floor(maxBindingBytes / largestBindingPerImage(stem, imageSize)));
}

const pow2Floor = (x: number) => 2 ** Math.floor(Math.log2(Math.max(1, x)));

/** Refuses a batch whose tensors would not fit the device's binding limit (new and resumed runs). */
export function checkBatchFits(c: Pick<MocoConfig, 'batchSize' | 'stem' | 'imageSize'>, maxBindingBytes: number): void {
  const fit = maxBatchFor(c.stem, c.imageSize, maxBindingBytes);
  if (c.batchSize <= fit) return;
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  throw new ConfigError(
    `moco: --batch-size ${c.batchSize} at ${c.imageSize} px (${c.stem} stem) needs ${mib(c.batchSize * largestBindingPerImage(c.stem, c.imageSize))} ` +
      `tensors; this device binds at most ${mib(maxBindingBytes)}: use --batch-size ${fit} or less`,
  );
}

/** Images per batch when extracting features (eval mode): at least 64, within the binding limit. */
export function extractionBatch(c: Pick<MocoConfig, 'batchSize' | 'stem' | 'imageSize'>, maxBindingBytes: number): number {
  return Math.min(Math.max(c.batchSize, 64), maxBatchFor(c.stem, c.imageSize, maxBindingBytes));
}

/**
 * Ghost-batch groups for Shuffle-BN: batch / 8 of them (8 samples each), at most 8 (MoCo's 8 GPUs,
 * 32 samples each at batch 256), lowered to the nearest whole number that divides the batch.
 */
export function defaultBnSplits(batchSize: number): number {
  for (let d = Math.min(8, Math.max(1, Math.floor(batchSize / 8))); d > 1; d--) if (batchSize % d === 0) return d;
  return 1;
}

/**
 * Fills in every value: overrides win, then the preset, then defaults that depend on the data —
 * batch ≤ 1/8 of the training set (at least 8 steps an epoch), K ≤ half the training set (a queue
 * longer than the data set would hold several keys of the same image as negatives).
 * Returns the config and notes on the values chosen for the data.
 */
export function resolveConfig(given: ConfigOverrides, facts: DatasetFacts): { config: MocoConfig; notes: string[] } {
  const notes: string[] = [];
  const adjusted = presetFor(given, notes);
  const o = adjusted.o;
  const preset = adjusted.preset;
  const imageSize = o.imageSize ?? 64;
  const stem = o.stem ?? (imageSize <= 32 ? 'cifar' : 'imagenet');
  let batchSize = o.batchSize ?? Math.min(preset.batchSize, Math.max(2, pow2Floor(facts.trainSize / 8)));
  if (o.batchSize === undefined && batchSize !== preset.batchSize) {
    notes.push(`batch size ${batchSize} (the preset's ${preset.batchSize} capped at 1/8 of ${facts.trainSize} training images)`);
  }
  const fit = facts.maxBindingBytes ? maxBatchFor(stem, imageSize, facts.maxBindingBytes) : Infinity;
  if (o.batchSize === undefined && batchSize > fit) {
    notes.push(
      `batch size ${fit}, not ${batchSize}: at ${imageSize} px a larger batch makes tensors over this device's ` +
        `${facts.maxBindingBytes! / 2 ** 20} MiB binding limit${o.lr === undefined && preset.optimizer === 'sgd' ? ' (the lr is scaled with the batch)' : ''}`,
    );
    batchSize = fit;
  }
  let queueSize = o.queueSize;
  if (queueSize === undefined) {
    // a multiple of the keys enqueued per step, at most half the training set, at least one step's keys
    const keys = o.symmetric ? 2 * batchSize : batchSize;
    const fit = Math.floor(Math.min(preset.queueSize, facts.trainSize / 2) / keys) * keys;
    queueSize = Math.max(keys, fit);
    if (queueSize !== preset.queueSize) notes.push(`queue K ${queueSize} (the preset's ${preset.queueSize} fitted to half the training set, in whole steps of ${keys} keys)`);
  }
  const lr = o.lr ?? (preset.optimizer === 'sgd' ? (preset.lr256 * batchSize) / 256 : preset.lr256);
  const config: MocoConfig = {
    preset: o.preset ?? 'mocov2',
    data: o.data ?? null,
    imageSize,
    stem,
    headHidden: o.headHidden ?? preset.headHidden,
    dim: o.dim ?? preset.dim,
    queueSize,
    momentum: o.momentum ?? preset.momentum,
    temperature: o.temperature ?? preset.temperature,
    symmetric: o.symmetric ?? false,
    bnSplits: o.bnSplits ?? defaultBnSplits(batchSize),
    queueInit: o.queueInit ?? preset.queueInit,
    optimizer: o.optimizer ?? preset.optimizer,
    lr,
    minLr: o.minLr ?? preset.minLr,
    scheduleBy: o.scheduleBy ?? preset.scheduleBy,
    sgdMomentum: o.sgdMomentum ?? 0.9,
    weightDecay: o.weightDecay ?? preset.weightDecay,
    batchSize,
    epochs: o.epochs ?? preset.epochs,
    augment: { ...MOCO_V2_AUGMENT, ...o.augment },
    knnEvery: o.knnEvery ?? 10,
    knnK: o.knnK ?? 200,
    knnT: o.knnT ?? 0.1,
    knnFeatures: o.knnFeatures ?? 'backbone',
    seed: o.seed ?? 0,
    out: o.out ?? 'runs/moco',
    cacheDir: o.cacheDir ?? '.cache',
    checkpointMinutes: o.checkpointMinutes ?? 10,
    logEvery: o.logEvery ?? 10,
  };
  validateConfig(config, facts);
  return { config, notes };
}

/** A configuration the trainer cannot run with (the CLI exits with code 2, like a usage error). */
export class ConfigError extends Error {}

/** Refuses values the trainer cannot run with, naming the option. */
export function validateConfig(c: MocoConfig, facts: DatasetFacts): void {
  const fail = (msg: string) => {
    throw new ConfigError(`moco: ${msg}`);
  };
  const positiveInt = (name: string, v: number) => {
    if (!Number.isInteger(v) || v <= 0) fail(`--${name} must be a positive integer, got ${v}`);
  };
  positiveInt('image-size', c.imageSize);
  positiveInt('batch-size', c.batchSize);
  positiveInt('epochs', c.epochs);
  positiveInt('moco-k', c.queueSize);
  positiveInt('moco-dim', c.dim);
  positiveInt('bn-splits', c.bnSplits);
  positiveInt('knn-every', c.knnEvery);
  positiveInt('knn-k', c.knnK);
  positiveInt('log-every', c.logEvery);
  const minSize = c.stem === 'cifar' ? 8 : 32;
  if (c.imageSize < minSize) {
    fail(`--image-size ${c.imageSize} is too small for the ${c.stem} stem (ResNet-18 halves it ${c.stem === 'cifar' ? 3 : 5} times; at least ${minSize})`);
  }
  if (c.batchSize < 2) fail('--batch-size must be at least 2 (BatchNorm needs two samples)');
  const keysPerStep = c.symmetric ? 2 * c.batchSize : c.batchSize;
  if (c.queueSize % keysPerStep !== 0) {
    fail(`--moco-k ${c.queueSize} is not a multiple of the ${keysPerStep} keys enqueued per step (batch ${c.batchSize}${c.symmetric ? ', symmetric' : ''})`);
  }
  if (c.batchSize % c.bnSplits !== 0 || c.batchSize / c.bnSplits < 2) {
    fail(`--bn-splits ${c.bnSplits} must divide the batch size ${c.batchSize} into groups of at least 2`);
  }
  if (facts.maxBindingBytes) checkBatchFits(c, facts.maxBindingBytes);
  if (c.batchSize > facts.trainSize) fail(`--batch-size ${c.batchSize} is larger than the ${facts.trainSize} training images`);
  if (!(c.momentum >= 0 && c.momentum < 1)) fail(`--moco-m must be in [0, 1), got ${c.momentum}`);
  if (!(c.temperature > 0)) fail(`--moco-t must be > 0, got ${c.temperature}`);
  if (!(c.lr > 0)) fail(`--lr must be > 0, got ${c.lr}`);
  if (!(c.minLr >= 0 && c.minLr <= c.lr)) fail(`--min-lr must be in [0, lr], got ${c.minLr}`);
  if (!(c.weightDecay >= 0)) fail(`--wd must be ≥ 0, got ${c.weightDecay}`);
  if (!(c.knnT > 0)) fail(`--knn-t must be > 0, got ${c.knnT}`);
  if (c.headHidden.some((h) => !Number.isInteger(h) || h <= 0)) fail(`--head must list positive widths, got ${c.headHidden.join(',')}`);
  if (!(c.checkpointMinutes > 0)) fail(`--checkpoint-minutes must be > 0, got ${c.checkpointMinutes}`);
  if (c.queueInit === 'keys' && c.queueSize > facts.trainSize * 4) {
    fail(`--queue-init keys needs real keys for K ${c.queueSize}; the training set has only ${facts.trainSize} images`);
  }
}
