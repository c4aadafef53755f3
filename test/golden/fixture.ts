// Typed access to the PyTorch golden fixtures in test/fixtures/golden/ (written by make_golden.py;
// format in test/golden/README.md), and a comparison of our values with a fixture summary.
// Test code only: it reads the files with node:fs.
import { readFileSync } from 'node:fs';
import { deterministicInput, deterministicWeights, type WeightKind, type WeightSpec } from './deterministic-weights';

export type Stem = 'cifar' | 'imagenet';
export const STEMS: readonly Stem[] = ['cifar', 'imagenet'];

/** A whole tensor (row-major), for tensors of at most 4096 elements. */
export interface FullSummary {
  full: number[];
}

/** A large tensor: float64 sums over its float32 values and entries at seeded indices (repeats possible). */
export interface SampledSummary {
  sum: number;
  sumAbs: number;
  sumSq: number;
  indices: number[];
  values: number[];
}

export type Summary = FullSummary | SampledSummary;

/** The deterministic initial value of a tensor: a checksum of its bits, its sums, and either the whole tensor or samples. */
export interface InitialEntry {
  checksum: number;
  sum: number;
  sumAbs: number;
  sumSq: number;
  full?: number[];
  indices?: number[];
  values?: number[];
}

export interface GoldenParam {
  name: string;
  shape: number[];
  kind: WeightKind;
  fanIn?: number;
  numel: number;
  /** true for parameters (they have gradients and optimizer steps), false for BN running stats. */
  trainable: boolean;
}

export interface GoldenTolerance {
  rtol: number;
  /** One value, or one per stored value of the summary (full values or samples); sums are then not checked. */
  atol: number | readonly number[];
}

export interface GoldenFixture {
  meta: {
    format: string;
    stem: Stem;
    weightSeed: number;
    inputSeed: number;
    sampleSeed: number;
    torch: string;
    tolerances: Record<string, unknown>;
    [key: string]: unknown;
  };
  inputShape: number[];
  labels: number[];
  /** The input batch, row-major NCHW (also deterministicInput(meta.inputSeed, inputShape)). */
  input: number[];
  logitsShape: number[];
  logitsEval: number[];
  lossEval: number;
  logitsTrain: number[];
  lossTrain: number;
  /** Every state_dict entry but num_batches_tracked, in state_dict order. */
  params: GoldenParam[];
  initial: Record<string, InitialEntry>;
  grad: Record<string, Summary>;
  runningStatsAfterTrainForward: Record<string, number[]>;
  numBatchesTrackedAfterTrainForward: number;
  sgdStep: Record<string, Summary>;
  adamStep: Record<string, Summary>;
}

export const FIXTURE_DIR = new URL('../fixtures/golden/', import.meta.url);

export function loadGoldenFixture(stem: Stem): GoldenFixture {
  const fixture = JSON.parse(readFileSync(new URL(`resnet18-${stem}.json`, FIXTURE_DIR), 'utf8')) as GoldenFixture;
  if (fixture.meta?.format !== 'wgtensor-golden-resnet18/1') {
    throw new Error(`golden fixture ${stem}: format ${String(fixture.meta?.format)}, expected wgtensor-golden-resnet18/1`);
  }
  return fixture;
}

/** The fixture's state_dict entries (without num_batches_tracked) as specs for the deterministic generator. */
export function fixtureSpecs(fx: GoldenFixture): WeightSpec[] {
  return fx.params.map((p) => ({ name: p.name, shape: p.shape, kind: p.kind, ...(p.fanIn !== undefined ? { fanIn: p.fanIn } : {}) }));
}

/** The initial weights and BN running stats of the fixture, keyed by state_dict name (11.2 M values). */
export function fixtureWeights(fx: GoldenFixture): Map<string, Float32Array> {
  return deterministicWeights(fixtureSpecs(fx), fx.meta.weightSeed);
}

/** The fixture's input batch, regenerated (bit-identical to fx.input). */
export function fixtureInput(fx: GoldenFixture): Float32Array {
  return deterministicInput(fx.meta.inputSeed, fx.inputShape);
}

export function isFull(s: Summary): s is FullSummary {
  return 'full' in s;
}

/** Root mean square of the tensor a summary describes (numel needed for sampled summaries). */
export function summaryRms(s: Summary, numel: number): number {
  if (isFull(s)) return Math.sqrt(s.full.reduce((a, v) => a + v * v, 0) / Math.max(1, s.full.length));
  return Math.sqrt(s.sumSq / Math.max(1, numel));
}

export type ToleranceKind = 'logits' | 'loss' | 'runningStats' | 'grad' | 'sgdStep' | 'adamStep';

interface ToleranceTable {
  logits: { rtol: number; atol: number };
  loss: { rtol: number; atol: number };
  runningStats: { rtol: number; atol: number };
  grad: { rtol: number; atolTimesRmsGrad: number };
  sgdStep: { rtol: number; atol: number; atolTimesLrRmsGrad: number };
  adamStep: { rtol: number; atol: number; illConditionedBelowTimesRmsGrad: number; illConditionedAtol: number };
}

/**
 * The recommended tolerance (meta.tolerances, explained in test/golden/tolerances.py, which make_golden.py
 * checks float64 PyTorch against): fixed for logits, loss and running stats; scaled by the RMS of the
 * tensor's gradient for grad and the SGD step; per stored value for the Adam step, with 2·lr where
 * |g| < 1e-3·rms(g) (there lr·g/(|g| + eps) depends on the last bits of g). `name` is needed for the
 * per-parameter kinds.
 */
export function goldenTolerance(fx: GoldenFixture, kind: ToleranceKind, name?: string): GoldenTolerance {
  const t = fx.meta.tolerances as unknown as ToleranceTable;
  if (kind === 'logits' || kind === 'loss' || kind === 'runningStats') return { rtol: t[kind].rtol, atol: t[kind].atol };
  const param = fx.params.find((p) => p.name === name);
  const grad = name === undefined ? undefined : fx.grad[name];
  if (!param || !grad) throw new Error(`goldenTolerance: ${kind} needs the name of a trainable parameter, got ${String(name)}`);
  const rms = summaryRms(grad, param.numel);
  if (kind === 'grad') return { rtol: t.grad.rtol, atol: t.grad.atolTimesRmsGrad * rms };
  const meta = fx.meta as unknown as { sgd: { lr: number }; adam: { lr: number } };
  if (kind === 'sgdStep') return { rtol: t.sgdStep.rtol, atol: t.sgdStep.atol + meta.sgd.lr * t.sgdStep.atolTimesLrRmsGrad * rms };
  const a = t.adamStep;
  const stored = isFull(grad) ? grad.full : grad.values;
  return { rtol: a.rtol, atol: stored.map((g) => (Math.abs(g) < a.illConditionedBelowTimesRmsGrad * rms ? a.illConditionedAtol : a.atol)) };
}

/**
 * Checks `actual` (the whole tensor, row-major) against a summary with |a - e| <= atol + rtol·|e| for each
 * stored value (atol may be per stored value), and, for sampled summaries with one atol, the sums with the bounds that elementwise tolerance implies:
 * |Σa - sum| <= atol·n + rtol·sumAbs and |Σa² - sumSq| <= Σ(atol + rtol·|e|)(2|e| + atol + rtol·|e|) written with the sums. NaN never passes.
 */
export function checkSummary(label: string, actual: ArrayLike<number>, expected: Summary, tol: GoldenTolerance): void {
  const close = (a: number, e: number, bound: number) => Number.isFinite(a) && Math.abs(a - e) <= bound;
  const stored = isFull(expected) ? expected.full.length : expected.values.length;
  const perValue = typeof tol.atol !== 'number';
  if (perValue && (tol.atol as readonly number[]).length !== stored) {
    throw new Error(`${label}: ${(tol.atol as readonly number[]).length} atol values for ${stored} stored values`);
  }
  const atolAt = (k: number): number => (perValue ? (tol.atol as readonly number[])[k]! : (tol.atol as number));
  if (isFull(expected)) {
    if (actual.length !== expected.full.length) throw new Error(`${label}: ${actual.length} values, expected ${expected.full.length}`);
    let worst = -1;
    let worstExcess = 0;
    for (let i = 0; i < actual.length; i++) {
      const a = actual[i]!;
      const e = expected.full[i]!;
      const bound = atolAt(i) + tol.rtol * Math.abs(e);
      if (!close(a, e, bound)) {
        const excess = Number.isFinite(a) ? Math.abs(a - e) - bound : Infinity;
        if (worst < 0 || excess > worstExcess) [worst, worstExcess] = [i, excess];
      }
    }
    if (worst >= 0) {
      throw new Error(`${label}: element ${worst} is ${actual[worst]}, expected ${expected.full[worst]} (rtol ${tol.rtol}, atol ${atolAt(worst)})`);
    }
    return;
  }
  for (let k = 0; k < expected.indices.length; k++) {
    const i = expected.indices[k]!;
    if (i >= actual.length) throw new Error(`${label}: sample index ${i} is past the ${actual.length} values given`);
    const a = actual[i]!;
    const e = expected.values[k]!;
    if (!close(a, e, atolAt(k) + tol.rtol * Math.abs(e))) {
      throw new Error(`${label}: element ${i} is ${a}, expected ${e} (rtol ${tol.rtol}, atol ${atolAt(k)})`);
    }
  }
  if (perValue) return;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < actual.length; i++) {
    sum += actual[i]!;
    sumSq += actual[i]! * actual[i]!;
  }
  const atol = tol.atol as number;
  const rtol = tol.rtol;
  const sumBound = atol * actual.length + rtol * expected.sumAbs;
  if (!close(sum, expected.sum, sumBound)) throw new Error(`${label}: sum ${sum}, expected ${expected.sum} ± ${sumBound}`);
  const sqBound = 2 * (atol * expected.sumAbs + rtol * expected.sumSq) + atol * atol * actual.length + 2 * atol * rtol * expected.sumAbs + rtol * rtol * expected.sumSq;
  if (!close(sumSq, expected.sumSq, sqBound)) throw new Error(`${label}: sum of squares ${sumSq}, expected ${expected.sumSq} ± ${sqBound}`);
}
