// Our MoCo step against PyTorch's (facebookresearch/moco builder.py semantics, made by
// test/golden/make_moco_golden.py into test/fixtures/golden/moco-step.json): ResNet-18 with the cifar
// stem and a small head (512 → 32 → 16), batch 4 at 32×32, K 8, τ 0.2, m 0.99, bn splits 1, SGD
// (lr 0.03, momentum 0.9, wd 1e-4), augmentation off (the images are given as tensors), both encoders
// starting from the same deterministic weights, a hashed L2-normalised queue and ptr 4.
//
// MocoModel is driven exactly as moco/trainer.ts step() does (forward, backward, SGD, enqueue) for two
// steps. Step 1 compares loss, l_pos, l_neg, q, k, every query-encoder gradient, the query encoder after
// SGD, the key encoder after the momentum update, both encoders' BN running stats, and the queue and
// ptr after enqueue. Step 2 (its momentum update now moves the key encoder; its negatives hold step 1's
// keys; ptr wraps 0 → 4) compares the same forward quantities; its gradients are not in the fixture (the
// generator explains why). Our keys go through the shuffled path (keyShuffled + a non-identity perm);
// with one BN group the result must equal PyTorch's, which shuffles by the same perm.
//
// The logits are read by a probe on the query encoder: it L2-normalises the encoder's output with the
// same op the model uses (bit-identical q) and recomputes mocoLogits(q, keys, queue, τ) before the enqueue.
// Tolerances (meta.tolerances, each |ours - golden| <= atol + rtol·|golden|): loss rtol 1e-4 atol 1e-6;
// l_pos/l_neg rtol 1e-4 atol 1e-5; q, k, queue rtol 1e-4 atol 1e-5; running stats rtol 1e-4 atol 1e-5;
// gradients rtol 1e-3 atol 1e-3·rms(that gradient); query encoder after SGD rtol 1e-5 atol
// 1e-6 + lr·1e-3·rms(grad); key encoder rtol 1e-5 atol 1e-6 (+ (1 − m)·that SGD term in step 2).
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  copyInPlace,
  fromArray,
  gatherRows,
  Generator,
  noGrad,
  scope,
  SGD,
  type Module,
  type StateDict,
  type Tensor,
} from '../lib/index';
import { resolveConfig } from '../moco/config';
import { MocoModel } from '../moco/model';
import { mocoLogits } from '../moco/ops';
import { deterministicTensor, deterministicWeights } from './golden/deterministic-weights';
import { checkSummary, summaryRms, type GoldenParam, type GoldenTolerance, type Summary } from './golden/fixture';
import { onPath } from './helpers/gpu';

interface Tol {
  rtol: number;
  atol: number;
}

interface MocoStepFixture {
  step: number;
  queryImages: string;
  keyImages: string;
  perm: number[];
  ptrBefore: number;
  loss: number;
  lPos: number[];
  lNeg: number[];
  q: number[];
  k: number[];
  grad?: Record<string, Summary>;
  encoderQ?: Record<string, Summary>;
  encoderK: Record<string, Summary>;
  runningStatsQ: Record<string, Summary>;
  runningStatsK: Record<string, Summary>;
  queue: number[];
  ptr: number;
}

interface MocoFixture {
  meta: {
    format: string;
    stem: 'cifar' | 'imagenet';
    headHidden: number[];
    dim: number;
    queueSize: number;
    momentum: number;
    temperature: number;
    batch: number;
    imageSize: number;
    bnSplits: number;
    sgd: { lr: number; momentum: number; weight_decay: number };
    weightSeed: number;
    inputSeed: number;
    tolerances: {
      loss: Tol;
      logits: Tol;
      features: Tol;
      runningStats: Tol;
      grad: { rtol: number; atolTimesRmsGrad: number };
      encoderQ: Tol & { atolTimesLr: number };
      encoderK: Tol;
    };
  };
  params: GoldenParam[];
  imageShape: number[];
  queueInitial: number[];
  ptrInitial: number;
  steps: MocoStepFixture[];
}

const FORMAT = 'wgtensor-golden-moco-step/1';

function loadFixture(): MocoFixture {
  const fx = JSON.parse(readFileSync(new URL('fixtures/golden/moco-step.json', import.meta.url), 'utf8')) as MocoFixture;
  if (fx.meta?.format !== FORMAT) throw new Error(`moco golden fixture: format ${String(fx.meta?.format)}, expected ${FORMAT}`);
  return fx;
}

const fx = loadFixture();
const meta = fx.meta;
const tols = meta.tolerances;
const trainable = fx.params.filter((p) => p.trainable);
const numel = new Map(trainable.map((p) => [p.name, p.numel]));

/**
 * atol per step and parameter for the query encoder after SGD (steps with gradients) and the key encoder
 * after the momentum update: the gradient tolerance carried through the SGD steps so far (each step's
 * gradient enters the parameters with weight lr·Σ momentum^j), and into the key encoder with weight
 * 1 − m per step. The twin of param_tolerances in make_moco_golden.py.
 */
function paramTolerances(): { encoderQ: Map<string, number> | null; encoderK: Map<string, number> }[] {
  const { lr, momentum: mu } = meta.sgd;
  const m = meta.momentum;
  const out: { encoderQ: Map<string, number> | null; encoderK: Map<string, number> }[] = [];
  let prevQ = new Map(trainable.map((p) => [p.name, 0]));
  let prevK = new Map(trainable.map((p) => [p.name, 0]));
  fx.steps.forEach((st, t) => {
    const curK = new Map(trainable.map((p) => [p.name, m * prevK.get(p.name)! + (1 - m) * prevQ.get(p.name)!]));
    let curQ: Map<string, number> | null = null;
    if (st.grad) {
      curQ = new Map(
        trainable.map((p) => {
          let acc = 0;
          for (let s = 0; s <= t; s++) {
            const g = fx.steps[s]!.grad;
            if (!g) throw new Error('paramTolerances: the query-encoder tolerance needs the gradients of every step so far');
            let c = 0;
            for (let j = s; j <= t; j++) c += mu ** (j - s);
            acc += c * summaryRms(g[p.name]!, p.numel);
          }
          return [p.name, lr * tols.encoderQ.atolTimesLr * acc];
        }),
      );
    }
    out.push({
      encoderQ: curQ && new Map([...curQ].map(([n, v]) => [n, tols.encoderQ.atol + v])),
      encoderK: new Map([...curK].map(([n, v]) => [n, tols.encoderK.atol + v])),
    });
    prevK = curK;
    prevQ = curQ ?? new Map(trainable.map((p) => [p.name, NaN]));
  });
  return out;
}

const stepTols = paramTolerances();

let cachedState: StateDict | null = null;

/** The encoders' deterministic initial state (11 M values; computed once). */
function stateDict(): StateDict {
  if (cachedState) return cachedState;
  const weights = deterministicWeights(
    fx.params.map((p) => ({ name: p.name, shape: p.shape, kind: p.kind, ...(p.fanIn !== undefined ? { fanIn: p.fanIn } : {}) })),
    meta.weightSeed,
  );
  cachedState = new Map(fx.params.map((p) => [p.name, { shape: p.shape, data: weights.get(p.name)! }]));
  return cachedState;
}

function buildModel(): MocoModel {
  const { config } = resolveConfig(
    {
      stem: meta.stem,
      imageSize: meta.imageSize,
      headHidden: meta.headHidden,
      dim: meta.dim,
      queueSize: meta.queueSize,
      momentum: meta.momentum,
      temperature: meta.temperature,
      bnSplits: meta.bnSplits,
      batchSize: meta.batch,
      symmetric: false,
      optimizer: 'sgd',
      lr: meta.sgd.lr,
      sgdMomentum: meta.sgd.momentum,
      weightDecay: meta.sgd.weight_decay,
    },
    { trainSize: 1000, numClasses: 10 }, // any data set big enough for batch 4 and K 8
  );
  const model = new MocoModel(config, new Generator(7));
  const state = stateDict();
  model.encoderQ.loadStateDict(state);
  model.encoderK.loadStateDict(state);
  const queue = fromArray(fx.queueInitial, [meta.queueSize, meta.dim]);
  copyInPlace(model.queue, queue);
  queue.dispose();
  model.ptr = fx.ptrInitial;
  model.train();
  return model;
}

/** Wraps the query encoder's forward to keep q = l2Normalize(output) (no gradient) of the latest call. */
function probeQueries(model: MocoModel): { q: Tensor | null } {
  const probe: { q: Tensor | null } = { q: null };
  const forward = model.encoderQ.forward.bind(model.encoderQ);
  model.encoderQ.forward = (x: Tensor): Tensor => {
    const out = forward(x);
    probe.q = noGrad(() => out.l2Normalize());
    return out;
  };
  return probe;
}

function images(name: string): Tensor {
  return fromArray(deterministicTensor(meta.inputSeed, { name, shape: fx.imageShape, kind: 'input' }), fx.imageShape);
}

interface StepOutputs {
  loss: Tensor;
  logits: Tensor;
  q: Tensor;
  keys: Tensor;
}

/** One training step as moco/trainer.ts runs it, with the key images shuffled by the step's perm. */
function runStep(model: MocoModel, sgd: SGD, probe: { q: Tensor | null }, st: MocoStepFixture): StepOutputs {
  const query = images(st.queryImages);
  const key = images(st.keyImages);
  const out = scope(() => {
    const keyShuffled = gatherRows(key, st.perm); // key image j shows batch image perm[j]
    sgd.zeroGrad();
    probe.q = null;
    const { loss, keys } = model.forward({ query, keyShuffled, perm: st.perm });
    if (!probe.q) throw new Error('the query-encoder probe saw no forward');
    // Before the enqueue, as in the loss: the queue is the snapshot the loss used.
    const logits = noGrad(() => mocoLogits(probe.q!, keys, model.queue, meta.temperature));
    loss.backward();
    sgd.step();
    model.enqueue(keys);
    return { loss, logits, q: probe.q, keys };
  });
  query.dispose();
  key.dispose();
  return out;
}

const full = (values: number[]): Summary => ({ full: values });

async function checkStates(label: string, module: Module, expected: Record<string, Summary>, tol: (name: string) => GoldenTolerance, kind: 'params' | 'buffers'): Promise<void> {
  const ours = kind === 'params' ? module.namedParameters() : module.namedBuffers();
  assert.equal(
    ours.map(([n]) => n),
    Object.keys(expected),
    `${label}: our ${kind} and the fixture's differ`,
  );
  for (const [name, t] of ours) checkSummary(`${label} ${name}`, await t.toArray(), expected[name]!, tol(name));
}

async function compareStep(model: MocoModel, st: MocoStepFixture, out: StepOutputs, s: number): Promise<void> {
  const [n, kLen, dim] = [meta.batch, meta.queueSize, meta.dim];
  const p = `step ${st.step}`;
  checkSummary(`${p} loss`, [await out.loss.item()], full([st.loss]), tols.loss);
  const logits = await out.logits.toArray();
  assert.is(logits.length, n * (1 + kLen), `${p}: logits size`);
  const lPos = Array.from({ length: n }, (_, i) => logits[i * (1 + kLen)]!);
  const lNeg = Array.from({ length: n * kLen }, (_, j) => logits[Math.floor(j / kLen) * (1 + kLen) + 1 + (j % kLen)]!);
  checkSummary(`${p} l_pos`, lPos, full(st.lPos), tols.logits);
  checkSummary(`${p} l_neg`, lNeg, full(st.lNeg), tols.logits);
  checkSummary(`${p} q`, await out.q.toArray(), full(st.q), tols.features);
  checkSummary(`${p} k`, await out.keys.toArray(), full(st.k), tols.features);
  if (st.grad) {
    const grads = st.grad;
    const params = model.encoderQ.namedParameters();
    assert.equal(params.map(([name]) => name), Object.keys(grads), `${p}: our query-encoder parameters and the fixture's gradients differ`);
    for (const [name, param] of params) {
      assert.ok(param.grad, `${p}: ${name} has no gradient`);
      const atol = tols.grad.atolTimesRmsGrad * summaryRms(grads[name]!, numel.get(name)!);
      checkSummary(`${p} grad ${name}`, await param.grad.toArray(), grads[name]!, { rtol: tols.grad.rtol, atol });
    }
  }
  const stepTol = stepTols[s]!;
  if (st.encoderQ) {
    const atol = stepTol.encoderQ!;
    await checkStates(`${p} query encoder after SGD`, model.encoderQ, st.encoderQ, (name) => ({ rtol: tols.encoderQ.rtol, atol: atol.get(name)! }), 'params');
  }
  await checkStates(`${p} key encoder after the momentum update`, model.encoderK, st.encoderK, (name) => ({ rtol: tols.encoderK.rtol, atol: stepTol.encoderK.get(name)! }), 'params');
  await checkStates(`${p} query-encoder running stats`, model.encoderQ, st.runningStatsQ, () => tols.runningStats, 'buffers');
  await checkStates(`${p} key-encoder running stats`, model.encoderK, st.runningStatsK, () => tols.runningStats, 'buffers');
  assert.is(st.queue.length, kLen * dim);
  checkSummary(`${p} queue after enqueue`, await model.queue.toArray(), full(st.queue), tols.features);
  assert.is(model.ptr, st.ptr, `${p}: queue pointer after enqueue`);
}

test('fixture set-up: our encoder has its state_dict names and shapes, the perms are non-trivial permutations', () => {
  const model = buildModel();
  assert.equal(
    model.encoderQ.namedState().map(([name, t]) => `${name} [${t.shape}]`),
    fx.params.map((p) => `${p.name} [${p.shape}]`),
  );
  for (const st of fx.steps) {
    assert.equal([...st.perm].sort((a, b) => a - b), [...Array(meta.batch).keys()], `step ${st.step}: perm is a permutation`);
    assert.ok(st.perm.some((v, i) => v !== i), `step ${st.step}: perm is not the identity`);
  }
  assert.equal(fx.steps.map((st) => st.ptrBefore), [fx.ptrInitial, ...fx.steps.slice(0, -1).map((st) => st.ptr)]);
  assert.ok(fx.steps[0]!.grad && fx.steps[0]!.encoderQ, 'step 1 has gradients and the query encoder after SGD');
  model.dispose();
});

for (const subgroups of [true, false]) {
  test(`two MoCo steps (forward, backward, SGD, enqueue) match PyTorch (${subgroups ? 'subgroup' : 'non-subgroup'} kernels)`, async () => {
    await onPath(
      subgroups,
      async () => {
        const model = buildModel();
        const probe = probeQueries(model);
        const sgd = new SGD(model.encoderQ.parameters(), { lr: meta.sgd.lr, momentum: meta.sgd.momentum, weightDecay: meta.sgd.weight_decay });
        try {
          for (const [s, st] of fx.steps.entries()) {
            assert.is(model.ptr, st.ptrBefore, `step ${st.step}: queue pointer before the step`);
            const out = runStep(model, sgd, probe, st);
            try {
              await compareStep(model, st, out, s);
            } finally {
              Object.values(out).forEach((t) => t.dispose());
            }
          }
        } finally {
          sgd.dispose();
          model.dispose();
        }
      },
      { checkLeaks: true },
    );
  });
}

test.run();
