// Optimizers vs the float64 reference of PyTorch's formulas, over several steps, on a packed model
// (one dispatch per step) and on loose parameters (one dispatch per parameter).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Adam, AdamW, fromArray, Module, SGD, scope, cosineSchedule, linearWarmup, stepSchedule, type Optimizer, type Parameter } from '../lib/index';
import { refAdamStep, refSgdStep } from '../lib/cpu/index';
import { assertClose } from './helpers/assert';
import { caseGenerator, randomArray } from './helpers/check';
import './helpers/gpu';

const SHAPES = [[3, 5], [7], [64], [2, 2, 3]];

class Toy extends Module {
  readonly ps: Parameter[];
  constructor(values: Float32Array[]) {
    super();
    this.ps = values.map((v, i) => this.registerParameter(`p${i}`, fromArray(v, SHAPES[i]!)));
  }
}

type Make = (params: Parameter[]) => Optimizer;
type RefStep = (p: Float64Array, g: Float64Array, state: Float64Array[], step: number) => void;

async function compare(name: string, make: Make, ref: RefStep, stateCount: number, packed: boolean): Promise<void> {
  const g = caseGenerator();
  const init = SHAPES.map((s) => randomArray(g, s.reduce((a, b) => a * b, 1)));
  const model = new Toy(init);
  if (packed) model.flatten();
  const opt = make(model.parameters());
  const expected = init.map((v) => Float64Array.from(v));
  const state = init.map((v) => Array.from({ length: stateCount }, () => new Float64Array(v.length)));
  for (let step = 1; step <= 4; step++) {
    const grads = init.map((v) => randomArray(g, v.length));
    // Make a gradient the way backward would: Σ (p · g) has gradient g.
    model.ps.forEach((p, i) => scope(() => p.mul(fromArray(grads[i]!, p.shape)).sum().backward()));
    opt.step();
    opt.zeroGrad();
    expected.forEach((p, i) => ref(p, Float64Array.from(grads[i]!), state[i]!, step));
  }
  for (let i = 0; i < SHAPES.length; i++) {
    assertClose(await model.ps[i]!.toArray(), expected[i]!, { rtol: 1e-5, atol: 1e-6 }, `${name} (${packed ? 'packed' : 'loose'}) param ${i}`);
  }
  opt.dispose();
  model.dispose();
}

for (const packed of [true, false]) {
  test(`SGD with momentum, weight decay, dampening and Nesterov (${packed ? 'one flat buffer' : 'per parameter'})`, async () => {
    const configs = [
      { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
      { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: false },
      { lr: 0.05, momentum: 0.9, dampening: 0.1, weightDecay: 1e-2, nesterov: false },
      { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 1e-4, nesterov: true },
    ];
    for (const c of configs) {
      await compare(
        `SGD ${JSON.stringify(c)}`,
        (ps) => new SGD(ps, c),
        (p, grad, [buf], step) => refSgdStep(p, grad, buf ?? new Float64Array(p.length), { ...c, first: step === 1 }),
        1,
        packed,
      );
    }
  });

  test(`Adam and AdamW (${packed ? 'one flat buffer' : 'per parameter'})`, async () => {
    for (const decoupled of [false, true]) {
      const o = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: decoupled ? 1e-2 : 1e-4 };
      await compare(
        decoupled ? 'AdamW' : 'Adam',
        (ps) => (decoupled ? new AdamW(ps, { lr: o.lr, weightDecay: o.weightDecay }) : new Adam(ps, { lr: o.lr, weightDecay: o.weightDecay })),
        (p, grad, [m, v], step) => refAdamStep(p, grad, m!, v!, { ...o, decoupled, step }),
        2,
        packed,
      );
    }
  });
}

test('schedules: cosine (MoCo per-epoch formula, warm-up), step and linear warm-up', () => {
  const cos = cosineSchedule(0.03, 200);
  assert.is(cos(0), 0.03);
  assert.ok(Math.abs(cos(100) - 0.015) < 1e-12);
  assert.ok(Math.abs(cos(199) - 0.03 * 0.5 * (1 + Math.cos((Math.PI * 199) / 200))) < 1e-15);
  const warm = cosineSchedule(1, 110, { warmup: 10 });
  assert.ok(Math.abs(warm(0) - 0.1) < 1e-12 && Math.abs(warm(9) - 1) < 1e-12 && warm(10) === 1);
  const st = stepSchedule(30, [60, 80]);
  assert.equal([st(0), st(59), st(60), st(79), st(80)].map((v) => Number(v.toPrecision(6))), [30, 30, 3, 3, 0.3]);
  const lin = linearWarmup(0.4, 4);
  assert.equal([0, 1, 2, 3, 4, 100].map((t) => Number(lin(t).toPrecision(6))), [0.1, 0.2, 0.3, 0.4, 0.4, 0.4]);
});

test.run();
