// Elementwise kernels: unary maps (with an optional scalar `alpha`), binary maps on equal shapes or
// with a scalar operand, binary maps with general broadcasting, and a constant fill.
//
// Layout: flat float32 arrays. The dense kernels process vec4s in a grid-stride loop over a few
// workgroups of 64 (the fastest pattern on lavapipe, see shared/docs/lavapipe-performance.md); they
// read and write whole vec4s, so buffers are padded to 16 bytes (lib/storage.ts guarantees this) and
// the lanes past the end compute values nobody reads. The broadcasting kernel works on scalars and
// maps each output index to the operands' offsets through per-axis strides (0 on broadcast axes),
// for tensors of rank up to 8.
import { bindingDecls, gridStride, paramsStruct, type KernelSpec, type UniformField } from './spec';

const WG = 64;
/** Grid-stride kernels use at most this many workgroups. */
const MAX_GROUPS = 256;

/** Expressions over `x` of type T and the scalar `a` (alpha). */
export const UNARY_OPS = {
  copy: 'x',
  neg: '-x',
  exp: 'exp(x)',
  log: 'log(x)',
  sqrt: 'sqrt(x)',
  rsqrt: 'inverseSqrt(x)',
  abs: 'abs(x)',
  sign: 'sign(x)',
  square: 'x * x',
  relu: 'max(x, T(0.0))',
  pow: 'pow_scalar(x, a)',
  addScalar: 'x + T(a)',
  mulScalar: 'x * T(a)',
  rsubScalar: 'T(a) - x',
  divScalar: 'x / T(a)',
  rdivScalar: 'T(a) / x',
  maxScalar: 'max(x, T(a))',
  minScalar: 'min(x, T(a))',
  /** d/dx max(x, a): 1 where x > a, 0.5 on ties, 0 below. */
  maxScalarGrad: 'select(select(T(0.0), T(0.5), x == T(a)), T(1.0), x > T(a))',
  /** d/dx min(x, a). */
  minScalarGrad: 'select(select(T(0.0), T(0.5), x == T(a)), T(1.0), x < T(a))',
} as const;
export type UnaryOp = keyof typeof UNARY_OPS;

/** Expressions over `a` and `b` of type T. */
export const BINARY_OPS = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  maximum: 'max(a, b)',
  minimum: 'min(a, b)',
  /** Gradient mask of maximum(a, b) for a: 1 where a > b, 0.5 on ties. */
  maxMask: 'select(select(T(0.0), T(0.5), a == b), T(1.0), a > b)',
  /** 1 where a == b, else 0 (the winners of a max reduction). */
  equalMask: 'select(T(0.0), T(1.0), a == b)',
  /** The gradient `a` where `b` (the ReLU output or input) is positive, else 0. */
  reluGrad: 'select(T(0.0), a, b > T(0.0))',
} as const;
export type BinaryOp = keyof typeof BINARY_OPS;

const POW_HELPER = /* wgsl */ `
// x^a with PyTorch's rules: exact squares, x^0 = 1, negative bases only for integer exponents.
fn pow_scalar(x: T, a: f32) -> T {
  let m = pow(abs(x), T(a));
  let odd = abs(a) % 2.0 == 1.0;
  let integer = fract(a) == 0.0;
  var nan_bits = 0x7fc00000u; // a var, so the NaN is made at run time (a constant NaN does not compile)
  let nan = T(bitcast<f32>(nan_bits));
  var r = select(m, select(nan, select(m, -m, odd), integer), x < T(0.0));
  r = select(r, x * x, a == 2.0);
  r = select(r, x, a == 1.0);
  r = select(r, T(1.0), a == 0.0);
  return r;
}`;

function typed(code: string, type: 'f32' | 'vec4<f32>'): string {
  return code.replace(/\bT\(/g, `${type}(`).replace(/: T\b/g, `: ${type}`).replace(/-> T\b/g, `-> ${type}`);
}

function gridStrideDispatch(count: number): [number, number, number] {
  return gridStride(count, WG * 4, MAX_GROUPS);
}

/**
 * y = f(x) elementwise, on vec4s. Bindings: x (read), y (read_write); or, when `inplace`, one
 * read_write binding x that receives f(x). Uniforms: n4 = ceil(n / 4), alpha.
 */
export function unaryKernel(op: UnaryOp, inplace = false): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'n4', type: 'u32' },
    { name: 'alpha', type: 'f32' },
  ];
  const bindings = inplace
    ? [{ name: 'x', access: 'read_write' as const, type: 'array<vec4<f32>>' }]
    : [
        { name: 'x', access: 'read' as const, type: 'array<vec4<f32>>' },
        { name: 'y', access: 'read_write' as const, type: 'array<vec4<f32>>' },
      ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
${typed(POW_HELPER, 'vec4<f32>')}
fn f(x: vec4<f32>, a: f32) -> vec4<f32> { return ${typed(UNARY_OPS[op], 'vec4<f32>')}; }

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${WG}u;
  for (var i = gid.x; i < p.n4; i += stride) {
    ${inplace ? 'x[i] = f(x[i], p.alpha);' : 'y[i] = f(x[i], p.alpha);'}
  }
}`;
  return {
    key: `unary:${op}:${inplace ? 'inplace' : 'out'}`,
    name: `unary.${op}`,
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => gridStrideDispatch(Number(u.n4)),
  };
}

/** y[i] = alpha for every vec4 of y. Uniforms: n4, alpha. */
export function fillKernel(): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'n4', type: 'u32' },
    { name: 'alpha', type: 'f32' },
  ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls([{ name: 'y', access: 'read_write', type: 'array<vec4<f32>>' }], true)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${WG}u;
  for (var i = gid.x; i < p.n4; i += stride) { y[i] = vec4<f32>(p.alpha); }
}`;
  return { key: 'fill', name: 'fill', code, bindings: ['read_write'], uniforms, dispatch: (u) => gridStrideDispatch(Number(u.n4)) };
}

/**
 * out = op(a, b) on equal-length operands (vec4s), or with `bScalar` where b is one element
 * broadcast to all of a. With `inplace`, binding 0 is a (read_write) and receives the result.
 * Bindings: a, b, out (or a, b when inplace). Uniforms: n4.
 */
export function binaryKernel(op: BinaryOp, bScalar: boolean, inplace = false): KernelSpec {
  const uniforms: UniformField[] = [{ name: 'n4', type: 'u32' }];
  const bindings = [
    { name: 'a', access: inplace ? ('read_write' as const) : ('read' as const), type: 'array<vec4<f32>>' },
    { name: 'b', access: 'read' as const, type: bScalar ? 'array<f32>' : 'array<vec4<f32>>' },
    ...(inplace ? [] : [{ name: 'out', access: 'read_write' as const, type: 'array<vec4<f32>>' }]),
  ];
  const target = inplace ? 'a' : 'out';
  const bValue = bScalar ? 'vec4<f32>(b[0])' : 'b[i]';
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
fn op(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> { return ${typed(BINARY_OPS[op], 'vec4<f32>')}; }

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${WG}u;
  for (var i = gid.x; i < p.n4; i += stride) {
    ${target}[i] = op(a[i], ${bValue});
  }
}`;
  return {
    key: `binary:${op}:${bScalar ? 'scalar' : 'dense'}:${inplace ? 'inplace' : 'out'}`,
    name: `binary.${op}`,
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => gridStrideDispatch(Number(u.n4)),
  };
}

/** Highest rank the strided kernels accept (after merging axes). */
export const MAX_RANK = 8;

/** Uniform fields holding up to MAX_RANK sizes or strides, packed in two vec4s. */
export function dimsField(name: string): UniformField {
  return { name, type: 'vec4<u32>', length: MAX_RANK / 4 };
}

/** WGSL helper reading entry `i` of a dimsField. */
export const DIM_HELPER = /* wgsl */ `
fn dim_at(v: array<vec4<u32>, ${MAX_RANK / 4}>, i: u32) -> u32 { return v[i / 4u][i % 4u]; }`;

/**
 * out[i] = op(a[ia], b[ib]) where i runs over the output (shape `shape`, rank `rank`) and ia, ib
 * come from the output coordinates and each operand's strides (0 on broadcast axes).
 * Bindings: a, b, out. Uniforms: n, rank, shape, aStrides, bStrides.
 */
export function broadcastBinaryKernel(op: BinaryOp): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'n', type: 'u32' },
    { name: 'rank', type: 'u32' },
    dimsField('shape'),
    dimsField('aStrides'),
    dimsField('bStrides'),
  ];
  const bindings = [
    { name: 'a', access: 'read' as const },
    { name: 'b', access: 'read' as const },
    { name: 'out', access: 'read_write' as const },
  ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
${DIM_HELPER}
fn op(a: f32, b: f32) -> f32 { return ${typed(BINARY_OPS[op], 'f32')}; }

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${WG}u;
  for (var i = gid.x; i < p.n; i += stride) {
    var rem = i;
    var ia = 0u;
    var ib = 0u;
    for (var d = i32(p.rank) - 1; d >= 0; d--) {
      let size = dim_at(p.shape, u32(d));
      let c = rem % size;
      rem = rem / size;
      ia += c * dim_at(p.aStrides, u32(d));
      ib += c * dim_at(p.bStrides, u32(d));
    }
    out[i] = op(a[ia], b[ib]);
  }
}`;
  return {
    key: `broadcast:${op}`,
    name: `broadcast.${op}`,
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => gridStride(Number(u.n), WG * 4, MAX_GROUPS * 4),
  };
}

/** In place y = y + alpha·x on vec4s (axpy). Bindings: y (read_write), x. Uniforms: n4, alpha. */
export function axpyKernel(): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'n4', type: 'u32' },
    { name: 'alpha', type: 'f32' },
  ];
  const bindings = [
    { name: 'y', access: 'read_write' as const, type: 'array<vec4<f32>>' },
    { name: 'x', access: 'read' as const, type: 'array<vec4<f32>>' },
  ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${WG}u;
  for (var i = gid.x; i < p.n4; i += stride) { y[i] = fma(vec4<f32>(p.alpha), x[i], y[i]); }
}`;
  return { key: 'axpy', name: 'axpy', code, bindings: ['read_write', 'read'], uniforms, dispatch: (u) => gridStrideDispatch(Number(u.n4)) };
}
