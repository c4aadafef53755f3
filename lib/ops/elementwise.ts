// Elementwise ops with NumPy broadcasting, and their gradients. Equal shapes and scalar operands
// take the dense vec4 kernels; any other broadcast takes the strided kernel after merging axes.
// The gradient of a broadcast operand is summed back to its shape (`unbroadcast`).
import {
  binaryKernel,
  broadcastBinaryKernel,
  MAX_RANK,
  unaryKernel,
  type BinaryOp,
  type UnaryOp,
} from '../../kernels/elementwise';
import { record } from '../autograd';
import { emptyTensor, type Tensor } from '../tensor';
import { sum } from './reduce';
import {
  broadcastShapes,
  broadcastStrides,
  checkInputs,
  collapseAxes,
  fmt,
  memoKernel,
  padList,
  rangeOf,
  vec4Count,
} from './util';

const unaryK = memoKernel(unaryKernel);
const binaryK = memoKernel(binaryKernel);
const broadcastK = memoKernel(broadcastBinaryKernel);

/** y = op(x, alpha) without gradient tracking (building block of ops and backward rules). */
export function mapUnary(op: UnaryOp, x: Tensor, alpha = 0): Tensor {
  const ctx = checkInputs(op, x);
  if (!Number.isFinite(alpha) && op !== 'maxScalar' && op !== 'minScalar') {
    throw new Error(`${op}: the scalar operand must be finite, got ${alpha} (tensor of shape ${fmt(x.shape)})`);
  }
  const out = emptyTensor(ctx, x.shape);
  ctx.run(unaryK(op, false), [rangeOf(x), rangeOf(out)], { n4: vec4Count(x), alpha });
  return out;
}

/** out = op(a, b) with broadcasting, without gradient tracking. */
export function mapBinary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const ctx = checkInputs(op, a, b);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = emptyTensor(ctx, shape);
  if (out.size === 0) return out;
  const sameShape = a.size === out.size && b.size === out.size;
  if (sameShape || (a.size === out.size && b.size === 1)) {
    ctx.run(binaryK(op, !sameShape, false), [rangeOf(a), rangeOf(b), rangeOf(out)], { n4: vec4Count(out) });
    return out;
  }
  const merged = collapseAxes(shape, [broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)]);
  if (merged.shape.length > MAX_RANK) {
    throw new Error(`${op}: broadcasting ${fmt(a.shape)} with ${fmt(b.shape)} needs rank ${merged.shape.length}, over ${MAX_RANK}`);
  }
  ctx.run(broadcastK(op), [rangeOf(a), rangeOf(b), rangeOf(out)], {
    n: out.size,
    rank: merged.shape.length,
    shape: padList(merged.shape, MAX_RANK, 1),
    aStrides: padList(merged.strides[0]!, MAX_RANK),
    bStrides: padList(merged.strides[1]!, MAX_RANK),
  });
  return out;
}

/** In place: a = op(a, b) where b has a's shape or one element. No gradient tracking. */
export function mapBinaryInPlace(op: BinaryOp, a: Tensor, b: Tensor): void {
  const ctx = checkInputs(op, a, b);
  if (b.size !== a.size && b.size !== 1) {
    throw new Error(`${op} (in place): operand of shape ${fmt(b.shape)} does not match ${fmt(a.shape)}`);
  }
  if (a.storage === b.storage) throw new Error(`${op} (in place): the operands share storage`);
  ctx.run(binaryK(op, b.size !== a.size, true), [rangeOf(a), rangeOf(b)], { n4: vec4Count(a) });
}

/** Sums a broadcast gradient back to `shape`. */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.join() === shape.join()) return g.handle();
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || shape[i - lead] === 1) axes.push(i);
  const summed = sum(g, axes, true);
  const out = summed.reshape(shape);
  summed.dispose();
  return out;
}

type Operand = Tensor | number;

/** Checks a tensor-scalar op's operands; ±Infinity is allowed only where `infinite` says so (maximum, minimum). */
function scalarOp(op: string, x: Tensor, value: number, infinite = false): void {
  checkInputs(op, x);
  if (typeof value !== 'number' || Number.isNaN(value) || (!infinite && !Number.isFinite(value))) {
    throw new Error(`${op}: the scalar operand must be a ${infinite ? 'number' : 'finite number'}, got ${value} (tensor of shape ${fmt(x.shape)})`);
  }
}

export function add(a: Tensor, b: Operand): Tensor {
  if (typeof b === 'number') {
    scalarOp('add', a, b);
    return record('add', mapUnary('addScalar', a, b), [a], (g) => [g]);
  }
  const out = mapBinary('add', a, b);
  return record('add', out, [a, b], (g) => [unbroadcast(g, a.shape), unbroadcast(g, b.shape)]);
}

export function sub(a: Tensor, b: Operand): Tensor {
  if (typeof b === 'number') {
    scalarOp('sub', a, b);
    return record('sub', mapUnary('addScalar', a, -b), [a], (g) => [g]);
  }
  const out = mapBinary('sub', a, b);
  return record('sub', out, [a, b], (g) => {
    const neg = mapUnary('neg', g);
    return [unbroadcast(g, a.shape), unbroadcast(neg, b.shape)];
  });
}

export function mul(a: Tensor, b: Operand): Tensor {
  if (typeof b === 'number') {
    scalarOp('mul', a, b);
    return record('mul', mapUnary('mulScalar', a, b), [a], (g) => [mapUnary('mulScalar', g, b)]);
  }
  const out = mapBinary('mul', a, b);
  return record(
    'mul',
    out,
    [a, b],
    (g, [sa, sb]) => [
      a.requiresGrad ? unbroadcast(mapBinary('mul', g, sb!), a.shape) : null,
      b.requiresGrad ? unbroadcast(mapBinary('mul', g, sa!), b.shape) : null,
    ],
    [a, b],
  );
}

export function div(a: Tensor, b: Operand): Tensor {
  if (typeof b === 'number') {
    scalarOp('div', a, b);
    return record('div', mapUnary('divScalar', a, b), [a], (g) => [mapUnary('divScalar', g, b)]);
  }
  const out = mapBinary('div', a, b);
  return record(
    'div',
    out,
    [a, b],
    (g, [sa, sb]) => {
      const ga = mapBinary('div', g, sb!);
      // d(a/b)/db = -a/b² = -(g/b)·(a/b)
      const gb = b.requiresGrad ? mapUnary('neg', mapBinary('mul', ga, mapBinary('div', sa!, sb!))) : null;
      return [a.requiresGrad ? unbroadcast(ga, a.shape) : null, gb ? unbroadcast(gb, b.shape) : null];
    },
    [a, b],
  );
}

function extremum(op: 'maximum' | 'minimum', a: Tensor, b: Operand): Tensor {
  if (typeof b === 'number') {
    scalarOp(op, a, b, true);
    const out = mapUnary(op === 'maximum' ? 'maxScalar' : 'minScalar', a, b);
    const gradOp = op === 'maximum' ? 'maxScalarGrad' : 'minScalarGrad';
    return record(op, out, [a], (g, [sa]) => [mapBinary('mul', g, mapUnary(gradOp, sa!, b))], [a]);
  }
  const out = mapBinary(op, a, b);
  return record(
    op,
    out,
    [a, b],
    (g, [sa, sb]) => {
      // maxMask(x, y) is 1 where x > y, 0.5 on ties; min swaps the roles.
      const [winA, winB] = op === 'maximum' ? [[sa!, sb!], [sb!, sa!]] : [[sb!, sa!], [sa!, sb!]];
      return [
        a.requiresGrad ? unbroadcast(mapBinary('mul', g, mapBinary('maxMask', winA[0]!, winA[1]!)), a.shape) : null,
        b.requiresGrad ? unbroadcast(mapBinary('mul', g, mapBinary('maxMask', winB[0]!, winB[1]!)), b.shape) : null,
      ];
    },
    [a, b],
  );
}

export function maximum(a: Tensor, b: Operand): Tensor {
  return extremum('maximum', a, b);
}

export function minimum(a: Tensor, b: Operand): Tensor {
  return extremum('minimum', a, b);
}

export function neg(x: Tensor): Tensor {
  return record('neg', mapUnary('neg', x), [x], (g) => [mapUnary('neg', g)]);
}

export function exp(x: Tensor): Tensor {
  const y = mapUnary('exp', x);
  return record('exp', y, [x], (g, [sy]) => [mapBinary('mul', g, sy!)], [y]);
}

export function log(x: Tensor): Tensor {
  return record('log', mapUnary('log', x), [x], (g, [sx]) => [mapBinary('div', g, sx!)], [x]);
}

export function sqrt(x: Tensor): Tensor {
  const y = mapUnary('sqrt', x);
  // d sqrt(x) = 1 / (2 sqrt(x))
  return record('sqrt', y, [x], (g, [sy]) => [mapUnary('mulScalar', mapBinary('div', g, sy!), 0.5)], [y]);
}

export function rsqrt(x: Tensor): Tensor {
  const y = mapUnary('rsqrt', x);
  // d x^(-1/2) = -1/2 · x^(-3/2) = -1/2 · y³
  return record(
    'rsqrt',
    y,
    [x],
    (g, [sy]) => [mapBinary('mul', g, mapUnary('mulScalar', mapUnary('pow', sy!, 3), -0.5))],
    [y],
  );
}

export function abs(x: Tensor): Tensor {
  return record('abs', mapUnary('abs', x), [x], (g, [sx]) => [mapBinary('mul', g, mapUnary('sign', sx!))], [x]);
}

export function relu(x: Tensor): Tensor {
  const y = mapUnary('relu', x);
  return record('relu', y, [x], (g, [sy]) => [mapBinary('reluGrad', g, sy!)], [y]);
}

export function pow(x: Tensor, exponent: number): Tensor {
  if (typeof exponent !== 'number' || !Number.isFinite(exponent)) {
    throw new Error(`pow: exponent must be a finite number, got ${exponent}`);
  }
  const y = mapUnary('pow', x, exponent);
  return record(
    'pow',
    y,
    [x],
    (g, [sx]) => {
      if (exponent === 0) return [mapUnary('mulScalar', g, 0)];
      // d x^a = a · x^(a-1)
      const d = mapUnary('mulScalar', mapUnary('pow', sx!, exponent - 1), exponent);
      return [mapBinary('mul', g, d)];
    },
    [x],
  );
}
