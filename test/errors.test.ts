// Bad input gets an error that names the op and the shapes.
import { test } from 'uvu';
import { create } from 'webgpu';
import { add, concat, fromArray, full, getContext, init, randn, requestContext, zeros, type KernelSpec } from '../lib/index';
import { assertRejects, assertThrows } from './helpers/assert';
import './helpers/gpu';

let gpu: GPU | null = null;
const gpuObject = async () => (gpu ??= create([]));

test('elementwise ops refuse shapes that do not broadcast', () => {
  const a = zeros([2, 3]);
  const b = zeros([4]);
  assertThrows(() => add(a, b), 'add', '[2, 3]', '[4]', 'broadcast');
  assertThrows(() => a.mul(zeros([3, 2])), 'mul', '[2, 3]', '[3, 2]');
  a.dispose();
  b.dispose();
});

test('a scalar operand that is not finite is refused, naming the op and the shape', () => {
  const a = zeros([2, 3]);
  assertThrows(() => a.add(Infinity), 'add', 'finite', 'Infinity', '[2, 3]');
  assertThrows(() => a.sub(Number.NaN), 'sub', 'finite', 'NaN', '[2, 3]');
  assertThrows(() => a.mul(-Infinity), 'mul', 'finite', '[2, 3]');
  assertThrows(() => a.div(Number.NaN), 'div', 'finite', '[2, 3]');
  a.dispose();
});

test('fromArray refuses data of the wrong length', () => {
  assertThrows(() => fromArray(new Float32Array(5), [2, 3]), 'fromArray', '5 values', '[2, 3]', '6');
  assertThrows(() => fromArray([1, 2, 3, 4], [5]), 'fromArray', '4 values', '[5]');
});

test('negative, fractional and non-numeric sizes are refused', () => {
  assertThrows(() => zeros([2, -1]), 'zeros', 'invalid shape', '[2,-1]');
  assertThrows(() => full([1.5], 1), 'full', 'invalid shape', '[1.5]');
  assertThrows(() => randn([Number.NaN]), 'randn', 'invalid shape');
  const x = zeros([6]);
  assertThrows(() => x.reshape([4, -1]), 'reshape', 'infer');
  assertThrows(() => x.reshape([4, 2]), 'reshape', '[4, 2]', '8', '6');
  x.dispose();
});

test('a disposed tensor cannot be used', async () => {
  const x = zeros([2, 2]);
  const y = zeros([2, 2]);
  x.dispose();
  x.dispose(); // twice is fine
  assertThrows(() => x.add(y), 'add', 'dispose');
  assertThrows(() => x.sum(), 'sum', 'dispose');
  await assertRejects(() => x.toArray(), 'toArray', 'dispose');
  assertThrows(() => concat([y, x]), 'concat', 'dispose');
  assertThrows(() => x.detach(), 'detach', '[2, 2]', 'dispose');
  assertThrows(() => x.onesLike(), 'onesLike', '[2, 2]', 'dispose');
  await assertRejects(() => x.item(), 'item', '[2, 2]', 'dispose');
  y.dispose();
});

test('GPU-side errors become thrown errors naming the kernel: validation, compilation, uncaptured, device loss', async () => {
  // Each failure is sticky for its context, so each gets a context of its own on a fresh device.
  const fresh = async () => requestContext(await gpuObject());
  const kernel = (name: string, code: string): KernelSpec => ({ key: `test.${name}`, name, code, bindings: ['read', 'read_write'], uniforms: [], dispatch: () => [1, 1, 1] });
  const copyOne = `@group(0) @binding(0) var<storage, read> x: array<vec4<f32>, 4>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(1) fn main() { y[0] = x[3].x; }`;

  // Validation: the shader wants 64 bytes at binding 0, the buffer bound has 16.
  let c = await fresh();
  c.run(kernel('tooSmallBinding', copyOne), [c.alloc(16), c.alloc(16)]);
  await assertRejects(() => c.sync(), 'GPU validation error', 'tooSmallBinding');
  assertThrows(() => c.run(kernel('later', copyOne), [c.alloc(64), c.alloc(16)]), 'tooSmallBinding'); // sticky
  c.destroy();

  // Compilation: the message names the kernel and the line.
  c = await fresh();
  c.run(kernel('brokenShader', `${copyOne}\nfn oops( {`), [c.alloc(64), c.alloc(16)]);
  await assertRejects(() => c.sync(), 'brokenShader', 'failed to compile', 'line');
  c.destroy();

  // Uncaptured (outside the library's error scopes): a write past a buffer's end, after a batch.
  c = await fresh();
  c.run(kernel('lastGoodKernel', copyOne), [c.alloc(64), c.alloc(16)]);
  await c.sync();
  c.queue.writeBuffer(c.alloc(16).buffer, 1024, new Float32Array(4));
  await assertRejects(() => c.sync(), 'GPU error after a batch of 1 dispatches', 'lastGoodKernel');
  c.destroy();

  // Device loss (here: the device destroyed behind the context's back).
  c = await fresh();
  c.run(kernel('beforeLoss', copyOne), [c.alloc(64), c.alloc(16)]);
  await c.sync();
  c.device.destroy();
  await c.device.lost;
  assertThrows(() => c.run(kernel('afterLoss', copyOne), [c.alloc(64), c.alloc(16)]), 'GPU device lost', 'beforeLoss');
});

test('init() returns the context already set up, and refuses to replace it with another device', async () => {
  const current = getContext();
  if ((await init()) !== current) throw new Error('init() made a second context');
  const other = await requestContext(await gpuObject());
  await assertRejects(() => init({ device: other.device }), 'init', 'another GPUDevice');
  if (getContext() !== current) throw new Error('the default context changed');
  other.destroy();
});

test('backward on a non-scalar without a gradient is refused', () => {
  const x = randn([2, 3], { requiresGrad: true });
  const y = x.mul(2);
  assertThrows(() => y.backward(), 'backward', '[2, 3]', 'gradient');
  const wrong = zeros([3]);
  assertThrows(() => y.backward(wrong), 'backward', '[3]', '[2, 3]');
  const z = zeros([2]);
  assertThrows(() => z.sum().backward(), 'backward', 'does not require grad');
  [x, y, wrong, z].forEach((t) => t.dispose());
});

test('axes out of range, repeated axes and bad slices are refused', async () => {
  const x = zeros([2, 3]);
  assertThrows(() => x.sum(2), 'sum', 'axis 2', 'rank 2');
  assertThrows(() => x.sum([1, -1]), 'sum', 'twice');
  assertThrows(() => x.permute([0, 0]), 'permute', 'not a permutation');
  assertThrows(() => x.slice(0, 0.5, 1), 'slice', 'integers');
  assertThrows(() => concat([x, zeros([3, 3])], 1), 'concat', '[2, 3]', '[3, 3]');
  assertThrows(() => x.broadcastTo([4, 3]), 'broadcastTo', '[2, 3]', '[4, 3]');
  await assertRejects(() => x.item(), 'item', '6 elements');
  x.dispose();
});

test.run();
