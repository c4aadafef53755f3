// Our ResNet-18 against PyTorch's (torchvision 0.14, golden fixtures in test/fixtures/golden/): the
// same deterministic weights and inputs give the same logits (eval and train mode), loss, gradient
// of every parameter, BatchNorm running statistics, and parameters after one SGD and one Adam step.
// Tolerances come from the fixture (meta.tolerances; see test/golden/README.md).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Adam, fromArray, resnet18, scope, SGD, type ResNet, type StateDict } from '../lib/index';
import {
  checkSummary,
  fixtureInput,
  fixtureWeights,
  goldenTolerance,
  loadGoldenFixture,
  STEMS,
  type GoldenFixture,
} from './golden/fixture';
import './helpers/gpu';

function buildModel(fx: GoldenFixture, weights: Map<string, Float32Array>): ResNet {
  const model = resnet18({ numClasses: 10, stem: fx.meta.stem });
  const state: StateDict = new Map(fx.params.map((p) => [p.name, { shape: p.shape, data: weights.get(p.name)! }]));
  model.loadStateDict(state);
  return model;
}

for (const stem of STEMS) {
  const fx = loadGoldenFixture(stem);
  const weights = fixtureWeights(fx);

  test(`${stem} stem: state_dict names, order and shapes are torchvision's`, () => {
    const model = resnet18({ numClasses: 10, stem });
    const ours = model.namedState().map(([name, t]) => `${name} [${t.shape}]`);
    const theirs = fx.params.map((p) => `${p.name} [${p.shape}]`);
    assert.equal(ours, theirs);
    model.dispose();
  });

  test(`${stem} stem: eval-mode logits and loss`, async () => {
    const model = buildModel(fx, weights).eval();
    const x = fromArray(fixtureInput(fx), fx.inputShape);
    const logits = scope(() => model.forward(x));
    checkSummary('eval logits', await logits.toArray(), { full: fx.logitsEval }, goldenTolerance(fx, 'logits'));
    const loss = logits.crossEntropy(fx.labels);
    checkSummary('eval loss', [await loss.item()], { full: [fx.lossEval] }, goldenTolerance(fx, 'loss'));
    [x, logits, loss].forEach((t) => t.dispose());
    model.dispose();
  });

  test(`${stem} stem: train-mode forward, gradients of every parameter, running stats, one SGD step`, async () => {
    const model = buildModel(fx, weights).train();
    const x = fromArray(fixtureInput(fx), fx.inputShape);
    const logits = scope(() => model.forward(x));
    checkSummary('train logits', await logits.toArray(), { full: fx.logitsTrain }, goldenTolerance(fx, 'logits'));
    const loss = logits.crossEntropy(fx.labels);
    checkSummary('train loss', [await loss.item()], { full: [fx.lossTrain] }, goldenTolerance(fx, 'loss'));
    loss.backward();
    const byName = new Map(model.namedState());
    for (const [name, stats] of Object.entries(fx.runningStatsAfterTrainForward)) {
      checkSummary(`running stat ${name}`, await byName.get(name)!.toArray(), { full: stats }, goldenTolerance(fx, 'runningStats'));
    }
    for (const [name, p] of model.namedParameters()) {
      checkSummary(`grad ${name}`, await p.grad!.toArray(), fx.grad[name]!, goldenTolerance(fx, 'grad', name));
    }
    const sgd = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
    sgd.step();
    for (const [name, p] of model.namedParameters()) {
      checkSummary(`sgd ${name}`, await p.toArray(), fx.sgdStep[name]!, goldenTolerance(fx, 'sgdStep', name));
    }
    [x, logits, loss].forEach((t) => t.dispose());
    sgd.dispose();
    model.dispose();
  });

  test(`${stem} stem: one Adam step from the same weights and gradients`, async () => {
    const model = buildModel(fx, weights).train();
    const x = fromArray(fixtureInput(fx), fx.inputShape);
    scope(() => model.forward(x).crossEntropy(fx.labels).backward());
    const adam = new Adam(model.parameters(), { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8 });
    adam.step();
    for (const [name, p] of model.namedParameters()) {
      checkSummary(`adam ${name}`, await p.toArray(), fx.adamStep[name]!, goldenTolerance(fx, 'adamStep', name));
    }
    x.dispose();
    adam.dispose();
    model.dispose();
  });
}

test.run();
