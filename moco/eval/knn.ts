// Weighted kNN classifier, the monitor of InstDisc and of the official MoCo CIFAR-10 demo:
// bank = features of the training images, queries = features of the validation images (rows
// L2-normalised by the caller, so a dot product is a cosine similarity).
//   sim[q, b] = query_q · bank_b                    (GPU matmul, one chunk of queries at a time)
//   N(q)      = the k bank rows of largest sim       (CPU, k capped at the bank size)
//   vote[c]   = Σ_{b ∈ N(q), label_b = c} exp(sim[q, b] / t)   (float64)
//   pred(q)   = argmax_c vote[c]
// Ties are resolved deterministically: neighbours are ranked by similarity, descending, and equal
// similarities by bank index, ascending (the lower index is the nearer neighbour, so it is the one
// kept when the k-th place is shared); votes are summed in that rank order; equal votes go to the
// lower class index.
// Memory: the bank is uploaded once (transposed); each chunk of queries gives a [chunk, bankSize]
// similarity block that is read back and reduced on the CPU while the GPU computes the next chunk.
// The chunk is sized so a block stays near 4 M floats (16 MB): 3,925 × 9,469 (Imagenette) runs
// as 9 chunks of 442 queries.
import { fromArray, matmul, type Tensor } from '../../lib/index';
import { extractFeatures, type ExtractOptions, type FeatureEncoder, type LabeledImages } from './features';

export interface KnnOptions {
  /** Neighbours per query (default 200, capped at the bank size). */
  k?: number;
  /** Temperature of the exp(sim / t) weights (default 0.1). */
  t?: number;
  /** Number of classes (default: 1 + the largest label of the bank and the queries). */
  numClasses?: number;
  /** Queries per GPU block (default: as many as keep a block near 4 M similarities). */
  chunk?: number;
}

export interface KnnResult {
  /** Top-1 accuracy over the queries, in percent. */
  top1: number;
  /** Predicted class of each query. */
  predictions: Int32Array;
  /** confusion[trueClass * numClasses + predictedClass] = count. */
  confusion: Int32Array;
  /** Accuracy (percent) per true class; NaN for a class without queries. */
  perClassAccuracy: number[];
  numClasses: number;
  /** The k actually used (min(k, bank size)). */
  k: number;
}

/** Labelled rows of features, row-major [count, dim]. */
export interface FeatureSet {
  features: Float32Array;
  labels: Int32Array | readonly number[];
}

const BLOCK_FLOATS = 4 * 1024 * 1024;

/** Features holding NaN or ±Infinity (an encoder whose weights diverged); the trainer stops on it. */
export class NonFiniteFeaturesError extends Error {}

/** Throws NonFiniteFeaturesError, naming `op`, the set and the first bad index, unless every value is finite. */
export function checkFiniteFeatures(op: string, name: string, features: Float32Array): void {
  for (let i = 0; i < features.length; i++) {
    if (!Number.isFinite(features[i]!)) throw new NonFiniteFeaturesError(`${op}: ${name}.features[${i}] is ${features[i]}; features must be finite`);
  }
}

function rowsOf(op: string, name: string, set: FeatureSet, dim: number): number {
  if (!(set.features instanceof Float32Array)) throw new Error(`${op}: ${name}.features must be a Float32Array`);
  const n = set.labels.length;
  if (set.features.length !== n * dim) {
    throw new Error(`${op}: ${name} has ${set.features.length} feature values for ${n} labels of dimension ${dim}; expected ${n * dim}`);
  }
  checkFiniteFeatures(op, name, set.features);
  return n;
}

function checkLabels(op: string, name: string, labels: ArrayLike<number>, numClasses: number): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    if (!Number.isInteger(l) || l < 0 || l >= numClasses) {
      throw new Error(`${op}: ${name} label ${l} at ${i} is not a class in [0, ${numClasses})`);
    }
  }
}

function maxLabel(labels: ArrayLike<number>): number {
  let m = -1;
  for (let i = 0; i < labels.length; i++) m = Math.max(m, labels[i]!);
  return m;
}

/**
 * Indices of the k largest values of `sims` (ties: lower index first), ordered nearest first.
 * A size-k min-heap whose root is the worst kept neighbour; NaN is refused.
 */
export function topK(sims: ArrayLike<number>, k: number): Int32Array {
  const n = sims.length;
  const kk = Math.min(k, n);
  const heap = new Int32Array(kk);
  // worse(a, b): a ranks after b
  const worse = (a: number, b: number) => sims[a]! < sims[b]! || (sims[a]! === sims[b]! && a > b);
  const siftDown = (start: number) => {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= kk) return;
      const r = l + 1;
      const w = r < kk && worse(heap[r]!, heap[l]!) ? r : l;
      if (!worse(heap[w]!, heap[i]!)) return;
      const tmp = heap[i]!;
      heap[i] = heap[w]!;
      heap[w] = tmp;
      i = w;
    }
  };
  for (let i = 0; i < kk; i++) {
    if (Number.isNaN(sims[i]!)) throw new Error(`topK: similarity ${i} is NaN`);
    heap[i] = i;
  }
  for (let i = (kk >> 1) - 1; i >= 0; i--) siftDown(i);
  for (let i = kk; i < n; i++) {
    const s = sims[i]!;
    // every kept index is below i, so an equal similarity never displaces the root
    if (s > sims[heap[0]!]!) {
      heap[0] = i;
      siftDown(0);
    } else if (Number.isNaN(s)) {
      throw new Error(`topK: similarity ${i} is NaN`);
    }
  }
  return heap.sort((a, b) => (sims[a]! !== sims[b]! ? sims[b]! - sims[a]! : a - b));
}

/** The weighted vote of one query's similarity row: returns the predicted class. */
export function knnVote(
  sims: ArrayLike<number>,
  bankLabels: ArrayLike<number>,
  k: number,
  t: number,
  numClasses: number,
  votes: Float64Array = new Float64Array(numClasses),
): number {
  votes.fill(0);
  for (const b of topK(sims, k)) votes[bankLabels[b]!] += Math.exp(sims[b]! / t);
  let best = 0;
  for (let c = 1; c < numClasses; c++) if (votes[c]! > votes[best]!) best = c;
  return best;
}

/**
 * Classifies every query by a weighted vote of its k nearest bank rows (see the file comment) and
 * scores the predictions against the query labels. Features are [count, dim] row-major; they
 * should be L2-normalised rows (extractFeatures does this).
 */
export async function knnClassify(bank: FeatureSet, queries: FeatureSet, dim: number, options: KnnOptions = {}): Promise<KnnResult> {
  const op = 'knnClassify';
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`${op}: dim must be a positive integer, got ${dim}`);
  const nb = rowsOf(op, 'bank', bank, dim);
  const nq = rowsOf(op, 'queries', queries, dim);
  if (nb === 0) throw new Error(`${op}: the bank is empty`);
  if (nq === 0) throw new Error(`${op}: there are no queries`);
  const kIn = options.k ?? 200;
  const t = options.t ?? 0.1;
  if (!Number.isInteger(kIn) || kIn < 1) throw new Error(`${op}: k must be a positive integer, got ${kIn}`);
  if (!(t > 0) || !Number.isFinite(t)) throw new Error(`${op}: t must be a positive number, got ${t}`);
  const numClasses = options.numClasses ?? 1 + Math.max(maxLabel(bank.labels), maxLabel(queries.labels));
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new Error(`${op}: numClasses must be a positive integer, got ${numClasses}`);
  checkLabels(op, 'bank', bank.labels, numClasses);
  checkLabels(op, 'query', queries.labels, numClasses);
  const chunk = options.chunk ?? Math.max(1, Math.min(nq, Math.floor(BLOCK_FLOATS / nb)));
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`${op}: chunk must be a positive integer, got ${chunk}`);
  const k = Math.min(kIn, nb);

  // the bank goes up transposed, [dim, bankSize], so the product reads it as plain row-major rows
  // (measured faster on lavapipe than a transposed operand)
  const transposed = new Float32Array(nb * dim);
  for (let b = 0; b < nb; b++) for (let d = 0; d < dim; d++) transposed[d * nb + b] = bank.features[b * dim + d]!;
  const bankT = fromArray(transposed, [dim, nb]);
  const similarities = (start: number): Tensor => {
    const end = Math.min(nq, start + chunk);
    const q = fromArray(queries.features.subarray(start * dim, end * dim), [end - start, dim]);
    try {
      return matmul(q, bankT);
    } finally {
      q.dispose();
    }
  };

  const predictions = new Int32Array(nq);
  const votes = new Float64Array(numClasses);
  let current: Tensor | null = null;
  let next: Tensor | null = null;
  try {
    current = similarities(0);
    for (let start = 0; start < nq && current; start += chunk) {
      const reading = current.toArray(); // the copy of this block is submitted here
      if (start + chunk < nq) {
        next = similarities(start + chunk); // the GPU computes the next block while the CPU votes
        bankT.ctx.flush();
      }
      const block = await reading;
      const rows = current.shape[0]!;
      current.dispose();
      current = next;
      next = null;
      for (let r = 0; r < rows; r++) {
        predictions[start + r] = knnVote(block.subarray(r * nb, (r + 1) * nb), bank.labels, k, t, numClasses, votes);
      }
    }
  } finally {
    current?.dispose();
    next?.dispose();
    bankT.dispose();
  }
  return { ...score(predictions, queries.labels, numClasses), predictions, numClasses, k };
}

/** Top-1 (percent), confusion matrix and per-class accuracy of predictions against labels. */
export function score(
  predictions: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses: number,
): { top1: number; confusion: Int32Array; perClassAccuracy: number[] } {
  const confusion = new Int32Array(numClasses * numClasses);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    confusion[labels[i]! * numClasses + predictions[i]!]!++;
    if (labels[i] === predictions[i]) correct++;
  }
  const perClassAccuracy = Array.from({ length: numClasses }, (_, c) => {
    let total = 0;
    for (let p = 0; p < numClasses; p++) total += confusion[c * numClasses + p]!;
    return total === 0 ? NaN : (100 * confusion[c * numClasses + c]!) / total;
  });
  return { top1: labels.length === 0 ? NaN : (100 * correct) / labels.length, confusion, perClassAccuracy };
}

/**
 * The kNN monitor of a training run: L2-normalised features of the training images (the bank) and
 * of the validation images (the queries) with the center transform, then knnClassify.
 */
export async function knnMonitor(
  encoder: FeatureEncoder,
  train: LabeledImages,
  val: LabeledImages,
  options: KnnOptions & { extract?: Omit<ExtractOptions, 'normalize'> } = {},
): Promise<KnnResult> {
  const extract: ExtractOptions = { ...options.extract, normalize: true };
  const bank = await extractFeatures(encoder, train.images, train.count, train.size, extract);
  const queries = await extractFeatures(encoder, val.images, val.count, val.size, extract);
  const dim = bank.length / train.count;
  const { extract: _unused, ...knn } = options;
  return knnClassify({ features: bank, labels: train.labels }, { features: queries, labels: val.labels }, dim, knn);
}
