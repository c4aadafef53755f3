// Linear evaluation (MoCo's main_lincls.py): a frozen backbone in eval mode gives raw (not
// normalised) 512-d pooled features — computed once, with the evaluation (center) transform —
// and a linear classifier y = x·Wᵀ + b is trained on them with softmax cross-entropy and SGD.
// Recipe (all overridable): W ~ N(0, 0.01²), b = 0; SGD lr 30, momentum 0.9, weight decay 0;
// batch 256, reshuffled every epoch, the last partial batch kept (PyTorch's DataLoader default);
// 100 epochs, lr × 0.1 at epochs 60 and 80 (by default at 60 % and 80 % of the epochs).
// MoCo trains the probe on RandomResizedCrop + flip views; here the features are computed once
// from the center transform (as the task's protocol asks), so every epoch sees the same vectors.
// `labelFraction` keeps a seeded, stratified subset of the training labels (the seed article's
// 10 %-label protocol); validation always uses every validation image.
// Per step on the GPU: gatherRows of the batch, matmul + bias, cross-entropy, backward, one SGD
// dispatch over the packed [W | b]; the epoch's summed loss stays on the GPU and is read once per
// epoch.
import {
  Generator,
  Linear,
  SGD,
  addScaledInPlace,
  crossEntropy,
  fromArray,
  gatherRows,
  noGrad,
  scope,
  stepSchedule,
  zeroInPlace,
  zeros,
  type Schedule,
} from '../../lib/index';
import { extractFeatures, type ExtractOptions, type FeatureEncoder, type LabeledImages } from './features';
import { checkFiniteFeatures, score, type FeatureSet } from './knn';

export interface LinearProbeOptions {
  /** Base learning rate (default 30, MoCo's value for its un-normalised features). */
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  batchSize?: number;
  epochs?: number;
  /** Epochs at which the lr is multiplied by gamma (default [round(0.6·epochs), round(0.8·epochs)]). */
  milestones?: number[];
  gamma?: number;
  /** Standard deviation of the initial weights (default 0.01); the bias starts at 0. */
  initStd?: number;
  /** Seed of the initial weights and the epoch shuffles (default 0). */
  seed?: number;
  /**
   * Standardise each feature dimension with the training set's mean and std before training
   * (default false, as MoCo). lr 30 is tuned for MoCo's raw features, whose values are small; with
   * standardised features (unit variance per dimension) an lr near 0.1–1 is the sensible start.
   */
  standardize?: boolean;
  /** Number of classes (default: 1 + the largest label). */
  numClasses?: number;
  /** Called after every epoch. */
  onEpoch?: (entry: EpochEntry) => void;
}

export interface EpochEntry {
  epoch: number;
  /** Learning rate used during this epoch. */
  lr: number;
  /** Mean training cross-entropy over the epoch's samples. */
  loss: number;
}

export interface LinearProbeResult {
  /** Validation top-1, percent. */
  top1: number;
  /** Top-1 on the training features the probe was fitted on, percent. */
  trainTop1: number;
  predictions: Int32Array;
  confusion: Int32Array;
  perClassAccuracy: number[];
  numClasses: number;
  history: EpochEntry[];
  /** The trained classifier: weight [numClasses, dim] row-major and bias [numClasses]. */
  weight: Float32Array;
  bias: Float32Array;
  /** Training samples used. */
  trainCount: number;
}

/** The default milestones for `epochs`: 60 % and 80 % of the way (60 and 80 for 100 epochs). */
export function defaultMilestones(epochs: number): number[] {
  return [Math.round(0.6 * epochs), Math.round(0.8 * epochs)];
}

/**
 * A seeded stratified subset of sample indices: from each class c with n_c samples it keeps
 * min(n_c, max(1, round(fraction · n_c))) of them (every class with samples keeps at least one).
 * The classes are visited in order and class c's samples are shuffled by one Generator(seed), so a
 * subset of a larger fraction (same seed) contains the subset of a smaller one. Returns the
 * indices sorted ascending.
 */
export function stratifiedSubset(labels: ArrayLike<number>, fraction: number, seed = 0): Int32Array {
  if (!(fraction > 0 && fraction <= 1)) throw new Error(`stratifiedSubset: fraction must be in (0, 1], got ${fraction}`);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!Number.isInteger(l) || l < 0) throw new Error(`stratifiedSubset: label ${l} at ${i} is not a class index`);
    let list = byClass.get(l);
    if (!list) byClass.set(l, (list = []));
    list.push(i);
  }
  const g = new Generator(seed);
  const kept: number[] = [];
  for (const c of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = byClass.get(c)!;
    const order = g.permutation(members.length);
    const take = Math.min(members.length, Math.max(1, Math.round(fraction * members.length)));
    for (let j = 0; j < take; j++) kept.push(members[order[j]!]!);
  }
  return Int32Array.from(kept).sort();
}

function standardizer(train: Float32Array, n: number, dim: number): (x: Float32Array) => Float32Array {
  const mean = new Float64Array(dim);
  const sq = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += train[i * dim + d]!;
  for (let d = 0; d < dim; d++) mean[d] /= n;
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) {
      const v = train[i * dim + d]! - mean[d]!;
      sq[d] += v * v;
    }
  }
  const inv = Array.from(sq, (s) => {
    const std = Math.sqrt(s / Math.max(1, n - 1));
    return std > 1e-12 ? 1 / std : 1;
  });
  return (x) => {
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = (x[i]! - mean[i % dim]!) * inv[i % dim]!;
    return out;
  };
}

function checkSet(name: string, set: FeatureSet, dim: number, numClasses: number): number {
  const n = set.labels.length;
  if (!(set.features instanceof Float32Array) || set.features.length !== n * dim) {
    throw new Error(`linearProbe: ${name} has ${set.features?.length} feature values for ${n} labels of dimension ${dim}; expected ${n * dim}`);
  }
  for (let i = 0; i < n; i++) {
    const l = set.labels[i]!;
    if (!Number.isInteger(l) || l < 0 || l >= numClasses) throw new Error(`linearProbe: ${name} label ${l} at ${i} is not a class in [0, ${numClasses})`);
  }
  checkFiniteFeatures('linearProbe', name, set.features);
  return n;
}

/** Predicted class (argmax, ties to the lower class) of every row of `features` under the classifier. */
async function predict(model: Linear, features: Float32Array, n: number, dim: number): Promise<Int32Array> {
  const c = model.outFeatures;
  const out = new Int32Array(n);
  const chunk = Math.max(1, Math.floor((1 << 22) / Math.max(dim, c)));
  for (let start = 0; start < n; start += chunk) {
    const rows = Math.min(chunk, n - start);
    const logits = noGrad(() => scope(() => model.forward(fromArray(features.subarray(start * dim, (start + rows) * dim), [rows, dim]))));
    let values: Float32Array;
    try {
      values = await logits.toArray();
    } finally {
      logits.dispose();
    }
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let j = 1; j < c; j++) if (values[r * c + j]! > values[r * c + best]!) best = j;
      out[start + r] = best;
    }
  }
  return out;
}

/**
 * Trains a linear classifier on `train` (rows of `dim` features) and reports its top-1 on `val`.
 * See the file comment for the recipe.
 */
export async function linearProbe(train: FeatureSet, val: FeatureSet, dim: number, options: LinearProbeOptions = {}): Promise<LinearProbeResult> {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`linearProbe: dim must be a positive integer, got ${dim}`);
  let maxLabel = 0;
  for (const set of [train, val]) for (let i = 0; i < set.labels.length; i++) maxLabel = Math.max(maxLabel, set.labels[i]!);
  const numClasses = options.numClasses ?? maxLabel + 1;
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`linearProbe: numClasses must be a positive integer, got ${numClasses}`);
  const n = checkSet('train', train, dim, numClasses);
  const nVal = checkSet('val', val, dim, numClasses);
  if (n === 0) throw new Error('linearProbe: no training samples');
  const epochs = options.epochs ?? 100;
  const batchSize = options.batchSize ?? 256;
  const lr = options.lr ?? 30;
  const initStd = options.initStd ?? 0.01;
  for (const [name, v] of [['epochs', epochs], ['batchSize', batchSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`linearProbe: ${name} must be a positive integer, got ${v}`);
  }
  if (!(lr >= 0 && Number.isFinite(lr))) throw new Error(`linearProbe: lr must be a finite number ≥ 0, got ${lr}`);
  if (!(initStd >= 0 && Number.isFinite(initStd))) throw new Error(`linearProbe: initStd must be a finite number ≥ 0, got ${initStd}`);
  const schedule: Schedule = stepSchedule(lr, options.milestones ?? defaultMilestones(epochs), options.gamma ?? 0.1);

  const transform = options.standardize ? standardizer(train.features, n, dim) : (x: Float32Array) => x;
  const trainX = transform(train.features);
  const valX = transform(val.features);
  const labels = Int32Array.from(train.labels);

  const g = new Generator(options.seed ?? 0);
  const w = new Float32Array(numClasses * dim);
  for (let i = 0; i < w.length; i++) w[i] = initStd * g.normal();
  // its own initialisation is overwritten below; a throwaway generator keeps the library's default one untouched
  const model = new Linear(dim, numClasses, { generator: new Generator(0) });
  model.loadStateDict(
    new Map([
      ['weight', { shape: [numClasses, dim], data: w }],
      ['bias', { shape: [numClasses], data: new Float32Array(numClasses) }],
    ]),
  );
  model.flatten();
  const opt = new SGD(model.parameters(), { lr, momentum: options.momentum ?? 0.9, weightDecay: options.weightDecay ?? 0 });
  const features = fromArray(trainX, [n, dim]);
  const lossSum = zeros([1]);
  const history: EpochEntry[] = [];
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      opt.lr = schedule(epoch);
      const order = g.permutation(n);
      for (let start = 0; start < n; start += batchSize) {
        const idx = order.subarray(start, Math.min(n, start + batchSize));
        const batchLabels = Int32Array.from(idx, (i) => labels[i]!);
        scope(() => {
          const loss = crossEntropy(model.forward(gatherRows(features, idx)), batchLabels);
          opt.zeroGrad();
          loss.backward();
          opt.step();
          addScaledInPlace(lossSum, loss, idx.length);
        });
      }
      const total = (await lossSum.toArray())[0]!;
      zeroInPlace(lossSum);
      const entry = { epoch, lr: opt.lr, loss: total / n };
      history.push(entry);
      options.onEpoch?.(entry);
    }
    const trainPred = await predict(model, trainX, n, dim);
    const predictions = await predict(model, valX, nVal, dim);
    const state = await model.stateDict();
    return {
      ...score(predictions, val.labels, numClasses),
      trainTop1: score(trainPred, labels, numClasses).top1,
      predictions,
      numClasses,
      history,
      weight: state.get('weight')!.data,
      bias: state.get('bias')!.data,
      trainCount: n,
    };
  } finally {
    features.dispose();
    lossSum.dispose();
    opt.dispose();
    model.dispose();
  }
}

export interface LinearEvalOptions extends LinearProbeOptions {
  /** Fraction of the training labels kept (stratified, seeded by `subsetSeed`); default 1. */
  labelFraction?: number;
  subsetSeed?: number;
  /** Feature extraction (batch size, normalisation constants, ...); features are always 'backbone', not L2-normalised. */
  extract?: Omit<ExtractOptions, 'features' | 'normalize'>;
}

/** The images (and labels) at `indices`, copied into new arrays. */
export function selectImages(set: LabeledImages, indices: ArrayLike<number>): LabeledImages {
  const per = set.size * set.size * 3;
  const images = new Uint8Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j]!;
    if (!Number.isInteger(i) || i < 0 || i >= set.count) throw new Error(`selectImages: index ${i} is outside [0, ${set.count})`);
    images.set(set.images.subarray(i * per, (i + 1) * per), j * per);
    labels[j] = set.labels[i]!;
  }
  return { images, labels, count: indices.length, size: set.size };
}

/**
 * Linear evaluation of a frozen encoder: raw backbone features of the (subset of the) training
 * images and of every validation image, then linearProbe. The encoder's head is not used.
 */
export async function linearEval(
  encoder: FeatureEncoder,
  train: LabeledImages,
  val: LabeledImages,
  options: LinearEvalOptions = {},
): Promise<LinearProbeResult & { subset: Int32Array | null }> {
  const fraction = options.labelFraction ?? 1;
  const subset = fraction < 1 ? stratifiedSubset(train.labels, fraction, options.subsetSeed ?? 0) : null;
  const used = subset ? selectImages(train, subset) : train;
  const extract: ExtractOptions = { ...options.extract, features: 'backbone', normalize: false };
  const trainF = await extractFeatures(encoder, used.images, used.count, used.size, extract);
  const valF = await extractFeatures(encoder, val.images, val.count, val.size, extract);
  const dim = trainF.length / used.count;
  const result = await linearProbe({ features: trainF, labels: used.labels }, { features: valF, labels: val.labels }, dim, options);
  return { ...result, subset };
}
