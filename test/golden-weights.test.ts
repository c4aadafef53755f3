// The TypeScript twin of the deterministic weight generator (test/golden/deterministic-weights.ts)
// against what the Python side (test/golden/weights.py, via make_golden.py) wrote into the golden
// fixtures: every initial tensor's bit checksum, sums, sampled values and a few whole tensors, the
// input batches and the sample indices. Values must be bit-identical, so comparisons are exact.
import { test } from 'uvu';
import {
  bitsChecksum,
  deterministicInput,
  deterministicTensor,
  deterministicWeights,
  hashU32,
  sampleIndices,
  torchvisionResnetSpec,
  uniformValues,
  type WeightSpec,
} from './golden/deterministic-weights';
import { STEMS, checkSummary, fixtureInput, fixtureSpecs, fixtureWeights, goldenTolerance, isFull, loadGoldenFixture } from './golden/fixture';
import { assertThrows } from './helpers/assert';

/** Exact float32 equality of our values with JSON numbers (which round to the same float32). */
function assertBitExact(label: string, actual: Float32Array, expected: number[]): void {
  if (actual.length !== expected.length) throw new Error(`${label}: ${actual.length} values, expected ${expected.length}`);
  const want = Float32Array.from(expected);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(want.buffer);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) throw new Error(`${label}: element ${i} is ${actual[i]}, Python wrote ${want[i]}`);
  }
}

for (const stem of STEMS) {
  test(`${stem}: every initial tensor matches the Python generator bit for bit`, () => {
    const fx = loadGoldenFixture(stem);
    const weights = fixtureWeights(fx);
    if (weights.size !== fx.params.length || fx.params.length !== 102) {
      throw new Error(`expected 102 state_dict tensors (without num_batches_tracked), got ${weights.size} of ${fx.params.length}`);
    }
    let full = 0;
    for (const p of fx.params) {
      const data = weights.get(p.name)!;
      const want = fx.initial[p.name];
      if (!want) throw new Error(`fixture has no initial entry for ${p.name}`);
      if (data.length !== p.numel) throw new Error(`${p.name}: ${data.length} values, numel ${p.numel}`);
      const checksum = bitsChecksum(data);
      if (checksum !== want.checksum) throw new Error(`${p.name}: bit checksum ${checksum}, Python wrote ${want.checksum}`);
      let sum = 0;
      let sumAbs = 0;
      let sumSq = 0;
      for (const v of data) {
        sum += v;
        sumAbs += Math.abs(v);
        sumSq += v * v;
      }
      // float64 sums of identical values in a different order: equal up to summation rounding
      for (const [what, ours, theirs, scale] of [['sum', sum, want.sum, want.sumAbs], ['sumAbs', sumAbs, want.sumAbs, want.sumAbs], ['sumSq', sumSq, want.sumSq, want.sumSq]] as const) {
        if (!(Math.abs(ours - theirs) <= 1e-12 * scale)) throw new Error(`${p.name}: ${what} ${ours}, Python wrote ${theirs}`);
      }
      if (want.full) {
        assertBitExact(`${p.name} (full)`, data, want.full);
        full++;
      }
      if (want.indices && want.values) {
        const idx = sampleIndices(fx.meta.sampleSeed, p.name, p.numel, want.indices.length);
        if (idx.join() !== want.indices.join()) throw new Error(`${p.name}: sample indices differ from Python's`);
        assertBitExact(`${p.name} (samples)`, Float32Array.from(want.indices, (i) => data[i]!), want.values);
      }
    }
    if (full < 3) throw new Error(`expected a few whole tensors in the fixture, found ${full}`);
  });

  test(`${stem}: the input batch and the sample indices of the summaries match Python`, () => {
    const fx = loadGoldenFixture(stem);
    assertBitExact('input', fixtureInput(fx), fx.input);
    assertBitExact('input', deterministicInput(fx.meta.inputSeed, fx.inputShape), fx.input);
    let sampled = 0;
    for (const group of [fx.grad, fx.sgdStep, fx.adamStep]) {
      for (const [name, s] of Object.entries(group)) {
        if (isFull(s)) continue;
        const numel = fx.params.find((p) => p.name === name)!.numel;
        const idx = sampleIndices(fx.meta.sampleSeed, name, numel, s.indices.length);
        if (idx.join() !== s.indices.join()) throw new Error(`${name}: sample indices differ from Python's`);
        sampled++;
      }
    }
    if (sampled === 0) throw new Error('no sampled summaries found');
  });

  test(`${stem}: torchvisionResnetSpec infers every kind and fanIn the Python side used`, () => {
    const fx = loadGoldenFixture(stem);
    for (const p of fx.params) {
      const spec = torchvisionResnetSpec(p.name, p.shape);
      if (!spec || spec.kind !== p.kind) throw new Error(`${p.name}: inferred kind ${spec?.kind}, Python used ${p.kind}`);
      const fanIn = spec.fanIn ?? (spec.kind === 'weight' ? p.shape.slice(1).reduce((x, y) => x * y, 1) : undefined);
      if (fanIn !== p.fanIn) throw new Error(`${p.name}: inferred fanIn ${fanIn}, Python used ${p.fanIn}`);
    }
    if (torchvisionResnetSpec('layer1.0.bn1.num_batches_tracked', []) !== null) throw new Error('num_batches_tracked should be skipped');
  });
}

test('checkSummary and goldenTolerance: exact values pass, perturbed values and NaN fail', () => {
  const fx = loadGoldenFixture('imagenet');
  const spec = (name: string): WeightSpec => fixtureSpecs(fx).find((q) => q.name === name)!;
  const tol = { rtol: 1e-5, atol: 1e-7 };
  for (const name of ['bn1.weight', 'layer3.0.conv2.weight']) {
    const entry = fx.initial[name]!;
    const summary = entry.full ? { full: entry.full } : { sum: entry.sum, sumAbs: entry.sumAbs, sumSq: entry.sumSq, indices: entry.indices!, values: entry.values! };
    const data = deterministicTensor(fx.meta.weightSeed, spec(name));
    checkSummary(name, data, summary, tol);
    const at = entry.full ? 7 : entry.indices![3]!;
    const moved = data.slice();
    moved[at] = moved[at]! + 1e-3;
    assertThrows(() => checkSummary(name, moved, summary, tol), name, `element ${at}`);
    const nan = data.slice();
    nan[at] = NaN;
    assertThrows(() => checkSummary(name, nan, summary, tol), name);
    if (!entry.full) {
      // a change away from the sampled indices is caught by the sums
      const sampled = new Set(entry.indices);
      let j = 0;
      while (sampled.has(j)) j++;
      const off = data.slice();
      off[j] = off[j]! + 0.5;
      assertThrows(() => checkSummary(name, off, summary, tol), name, 'sum');
    }
  }
  const g = goldenTolerance(fx, 'grad', 'fc.weight');
  const adam = goldenTolerance(fx, 'adamStep', 'fc.weight');
  const stored = (fx.grad['fc.weight'] as { values: number[] }).values.length;
  if (typeof g.atol !== 'number' || !(g.atol > 0) || !Array.isArray(adam.atol) || adam.atol.length !== stored) {
    throw new Error(`unexpected tolerances ${JSON.stringify(g)} / ${JSON.stringify(adam).slice(0, 80)}`);
  }
  assertThrows(() => goldenTolerance(fx, 'grad', 'bn1.running_mean'), 'goldenTolerance', 'bn1.running_mean');
});

test('the checksum sees a one-ulp change and a swap of two values', () => {
  const data = deterministicTensor(5, { name: 'w', shape: [16, 8], kind: 'weight' });
  const base = bitsChecksum(data);
  const ulp = data.slice();
  new Uint32Array(ulp.buffer)[37]! ^= 1;
  const swapped = data.slice();
  [swapped[3], swapped[90]] = [swapped[90]!, swapped[3]!];
  if (bitsChecksum(ulp) === base || bitsChecksum(swapped) === base) throw new Error('checksum missed a change');
});

test('values: u has 24 bits in [-1, 1), tensors differ by name and seed, and scaling follows the kind', () => {
  const u = uniformValues(9, 'a', 5000);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of u) {
    if (!Number.isInteger(v * 2 ** 23) || v < -1 || v >= 1) throw new Error(`u = ${v} is not a 24-bit value in [-1, 1)`);
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (lo > -0.99 || hi < 0.99) throw new Error(`u does not cover [-1, 1): [${lo}, ${hi}]`);
  if (hashU32(9, 'a', 0) === hashU32(9, 'b', 0) || hashU32(9, 'a', 0) === hashU32(10, 'a', 0)) throw new Error('name or seed ignored');
  const w = deterministicTensor(9, { name: 'a', shape: [2, 25], kind: 'weight' });
  const v = deterministicTensor(9, { name: 'a', shape: [50], kind: 'running_var' });
  for (let i = 0; i < 50; i++) {
    if (w[i] !== Math.fround(u[i]! / 5) && w[i] !== Math.fround(u[i]! * (1 / Math.sqrt(25)))) throw new Error(`weight ${i}: ${w[i]} is not u/sqrt(25)`);
    if (v[i] !== Math.fround(1 + 0.5 * Math.abs(u[i]!))) throw new Error(`running_var ${i}: ${v[i]} is not 1 + 0.5|u|`);
  }
});

test('bad specs throw errors naming the tensor', () => {
  assertThrows(() => deterministicTensor(1, { name: 'fc.bias', shape: [10], kind: 'bias' }), 'fc.bias', 'fanIn');
  assertThrows(() => deterministicTensor(1, { name: 'x', shape: [2], kind: 'nope' as never }), 'x', 'unknown kind');
  assertThrows(() => deterministicTensor(1, { name: 'x', shape: [2, -1], kind: 'input' }), 'x', 'bad shape');
  assertThrows(() => deterministicTensor(-1, { name: 'x', shape: [2], kind: 'input' }), 'seed');
  assertThrows(() => deterministicWeights([{ name: 'x', shape: [1], kind: 'input' }, { name: 'x', shape: [1], kind: 'input' }], 1), 'duplicate', 'x');
  assertThrows(() => torchvisionResnetSpec('layer1.0.relu.weight', [3]), 'layer1.0.relu.weight');
});

test.run();
