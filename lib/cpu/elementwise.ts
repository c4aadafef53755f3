// CPU reference of the elementwise ops (float64), with NumPy broadcasting.
import { broadcastShape, ravelBroadcast, refSize, unravel, type RefArray } from './array';

export type RefUnary =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'relu' | 'pow'
  | 'addScalar' | 'mulScalar' | 'divScalar' | 'maxScalar' | 'minScalar';
export type RefBinary = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum';

function powRef(x: number, a: number): number {
  if (a === 0) return 1;
  return Math.pow(x, a);
}

const unaryFns: Record<RefUnary, (x: number, a: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: Math.abs,
  relu: (x) => Math.max(x, 0),
  pow: powRef,
  addScalar: (x, a) => x + a,
  mulScalar: (x, a) => x * a,
  divScalar: (x, a) => x / a,
  maxScalar: (x, a) => Math.max(x, a),
  minScalar: (x, a) => Math.min(x, a),
};

const binaryFns: Record<RefBinary, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  maximum: Math.max,
  minimum: Math.min,
};

export function refUnary(op: RefUnary, x: RefArray, alpha = 0): RefArray {
  const f = unaryFns[op];
  return { data: x.data.map((v) => f(v, alpha)), shape: [...x.shape] };
}

export function refBinary(op: RefBinary, a: RefArray, b: RefArray): RefArray {
  const shape = broadcastShape(a.shape, b.shape);
  const f = binaryFns[op];
  const data = new Float64Array(refSize(shape));
  for (let i = 0; i < data.length; i++) {
    const c = unravel(i, shape);
    data[i] = f(a.data[ravelBroadcast(c, a.shape)]!, b.data[ravelBroadcast(c, b.shape)]!);
  }
  return { data, shape };
}
