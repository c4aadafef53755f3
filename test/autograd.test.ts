// Autograd semantics: accumulation, noGrad, detach, freeing the graph, scopes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fromArray, liveTensorCount, noGrad, scope } from '../lib/index';
import { assertClose, assertThrows } from './helpers/assert';
import './helpers/gpu';

test('gradients accumulate over backward calls until zeroed', async () => {
  const x = fromArray([1, 2, 3], [3], { requiresGrad: true });
  for (let i = 0; i < 2; i++) scope(() => x.mul(x).sum().backward());
  assertClose(await x.grad!.toArray(), [4, 8, 12], { rtol: 0, atol: 0 }, 'two backward passes of Σx²');
  x.zeroGrad();
  assert.is(x.grad, null);
  scope(() => x.mul(3).sum().backward());
  assertClose(await x.grad!.toArray(), [3, 3, 3], { rtol: 0, atol: 0 }, 'after zeroGrad');
  x.dispose();
});

test('noGrad records nothing; detach cuts the graph', () => {
  const x = fromArray([1, 2], [2], { requiresGrad: true });
  const y = noGrad(() => x.mul(2));
  assert.is(y.requiresGrad, false);
  assert.is(y.gradNode, null);
  const z = x.mul(2).detach();
  assert.is(z.requiresGrad, false);
  assertThrows(() => z.sum().backward(), 'does not require grad');
  assertThrows(() => noGrad(async () => 1), 'noGrad', 'synchronous');
  [x, y, z].forEach((t) => t.dispose());
});

test('backward frees the graph; a second backward through it is refused', () => {
  const before = liveTensorCount();
  const x = fromArray([1, 2, 3], [3], { requiresGrad: true });
  const y = scope(() => x.exp().mul(x).sum());
  y.backward();
  assertThrows(() => y.backward(), 'already freed');
  y.dispose();
  x.dispose();
  assert.is(liveTensorCount(), before, 'no tensor left alive after backward and dispose');
});

test('disposing the output of an undifferentiated forward frees its graph', () => {
  const before = liveTensorCount();
  const x = fromArray([1, 2, 3], [3], { requiresGrad: true });
  const y = scope(() => x.exp().mul(x).log().sum());
  assert.ok(liveTensorCount() > before + 2, 'the graph keeps saved tensors alive');
  y.dispose();
  x.dispose();
  assert.is(liveTensorCount(), before);
});

test('scope keeps what it returns (in arrays and objects) and frees the rest', () => {
  const before = liveTensorCount();
  const out = scope(() => {
    const a = fromArray([1, 2], [2]);
    const b = a.add(1);
    const c = b.mul(2);
    return { kept: [c], also: a };
  });
  assert.is(liveTensorCount(), before + 2);
  assert.ok(!out.kept[0]!.disposed && !out.also.disposed);
  out.kept[0]!.dispose();
  out.also.dispose();
  assert.throws(() => scope(() => Promise.resolve()), /synchronous/);
});

test('a leaf gradient survives the scope it was computed in', async () => {
  const x = fromArray([1, -2], [2], { requiresGrad: true });
  scope(() => x.relu().sum().backward());
  assertClose(await x.grad!.toArray(), [1, 0], { rtol: 0, atol: 0 }, 'relu gradient');
  x.dispose();
});

test.run();
