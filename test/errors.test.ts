// Bad input gets an error that names the op and the shapes.
import { test } from 'uvu';
import { add, concat, fromArray, full, randn, zeros } from '../lib/index';
import { assertRejects, assertThrows } from './helpers/assert';
import './helpers/gpu';

test('elementwise ops refuse shapes that do not broadcast', () => {
  const a = zeros([2, 3]);
  const b = zeros([4]);
  assertThrows(() => add(a, b), 'add', '[2, 3]', '[4]', 'broadcast');
  assertThrows(() => a.mul(zeros([3, 2])), 'mul', '[2, 3]', '[3, 2]');
  a.dispose();
  b.dispose();
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
  y.dispose();
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
