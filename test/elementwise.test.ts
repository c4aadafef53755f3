import { test } from 'uvu';
import { add, sub, mul, div, maximum, minimum, type Generator, type Tensor } from '../lib/index';
import { refBinary, refUnary, type RefBinary, type RefUnary } from '../lib/cpu/index';
import { checkOp } from './helpers/check';
import './helpers/gpu';

// Shapes: single elements, primes, vec4 tails (n % 4 != 0) and sizes past one workgroup sweep.
const SHAPES = [[1], [7], [3, 5], [2, 3, 4], [1031], [4, 257]];

// Finite differences straddle a kink when an input lies within their step (1e-5) of it, which a
// normal draw does now and then: ops with a kink draw at least 0.01 away from it.
const awayFrom = (kink: number) => (g: Generator) => kink + (g.uniform() < 0.5 ? -1 : 1) * g.uniformRange(0.01, 3);
// maximum/minimum of two tensors: one operand on the grid k/10, the other half a step off it.
const offGrid = (g: Generator, input: number) => Math.round(10 * g.normal()) / 10 + (input === 0 ? 0.05 : 0);

const unaryCases: { op: RefUnary; gpu: (x: Tensor) => Tensor; draw?: (g: Generator) => number; alpha?: number }[] = [
  { op: 'neg', gpu: (x) => x.neg() },
  { op: 'exp', gpu: (x) => x.exp() },
  { op: 'log', gpu: (x) => x.log(), draw: (g) => g.uniformRange(0.1, 4) },
  { op: 'sqrt', gpu: (x) => x.sqrt(), draw: (g) => g.uniformRange(0.1, 4) },
  { op: 'rsqrt', gpu: (x) => x.rsqrt(), draw: (g) => g.uniformRange(0.1, 4) },
  { op: 'abs', gpu: (x) => x.abs(), draw: awayFrom(0) },
  { op: 'relu', gpu: (x) => x.relu(), draw: awayFrom(0) },
];

for (const c of unaryCases) {
  test(`${c.op} forward and backward`, async () => {
    for (const shape of SHAPES) {
      await checkOp({
        name: c.op,
        shapes: [shape],
        gpu: c.gpu,
        cpu: (x) => refUnary(c.op, x),
        ...(c.draw ? { draw: c.draw } : {}),
        forward: { rtol: 2e-6, atol: 1e-6 },
        backward: { rtol: 1e-3, atol: 1e-4 },
      });
    }
  });
}

test('pow by a scalar, including negative bases with integer exponents', async () => {
  for (const a of [2, 3, 0.5, -1, 1.5]) {
    const positive = a % 1 !== 0;
    await checkOp({
      name: `pow ${a}`,
      shapes: [[5, 13]],
      gpu: (x) => x.pow(a),
      cpu: (x) => refUnary('pow', x, a),
      draw: (g) => (positive ? g.uniformRange(0.2, 3) : g.uniformRange(-3, 3)),
      forward: { rtol: 1e-5, atol: 1e-6 },
      backward: { rtol: 1e-3, atol: 1e-3 },
    });
  }
});

test('scalar operands: add, sub, mul, div, maximum, minimum', async () => {
  const cases: [string, (x: Tensor) => Tensor, RefUnary, number][] = [
    ['add', (x) => x.add(2.5), 'addScalar', 2.5],
    ['sub', (x) => x.sub(1.5), 'addScalar', -1.5],
    ['mul', (x) => x.mul(-3), 'mulScalar', -3],
    ['div', (x) => x.div(4), 'divScalar', 4],
    ['maximum', (x) => x.maximum(0.25), 'maxScalar', 0.25],
    ['minimum', (x) => x.minimum(-0.25), 'minScalar', -0.25],
  ];
  for (const [name, gpu, op, alpha] of cases) {
    const kinked = op === 'maxScalar' || op === 'minScalar';
    await checkOp({ name, shapes: [[3, 7]], gpu, cpu: (x) => refUnary(op, x, alpha), ...(kinked ? { draw: awayFrom(alpha) } : {}) });
  }
});

const binary: [RefBinary, (a: Tensor, b: Tensor) => Tensor][] = [
  ['add', add],
  ['sub', sub],
  ['mul', mul],
  ['div', div],
  ['maximum', maximum],
  ['minimum', minimum],
];

// Equal shapes (dense vec4 path), a one-element operand, and general broadcasts on both sides.
const PAIRS: number[][][] = [
  [[13], [13]],
  [[2, 3, 5], [2, 3, 5]],
  [[6, 7], [1]],
  [[6, 7], [7]],
  [[6, 1], [1, 5]],
  [[2, 3, 4, 5], [3, 1, 5]],
  [[1], [4, 9]],
  [[4, 1, 3], [2, 1]],
];

for (const [op, fn] of binary) {
  test(`${op} with broadcasting, forward and backward`, async () => {
    for (const shapes of PAIRS) {
      await checkOp({
        name: op,
        shapes,
        gpu: fn,
        cpu: (a, b) => refBinary(op, a, b),
        draw:
          op === 'div'
            ? (g, i) => (i === 1 ? g.uniformRange(0.5, 2) * (g.uniform() < 0.5 ? -1 : 1) : g.normal())
            : op === 'maximum' || op === 'minimum'
              ? offGrid
              : undefined,
        forward: { rtol: 2e-6, atol: 1e-6 },
      });
    }
  });
}

test('a tensor used twice accumulates both gradient paths', async () => {
  await checkOp({
    name: 'x*x + x',
    shapes: [[3, 4]],
    gpu: (x) => x.mul(x).add(x),
    cpu: (x) => refBinary('add', refBinary('mul', x, x), x),
  });
});

test.run();
