import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { concat, fromArray, gatherRows, type Tensor } from '../lib/index';
import { assertThrows } from './helpers/assert';
import { refBroadcastTo, refConcat, refGatherRows, refPermute, refSlice } from '../lib/cpu/index';
import { checkOp } from './helpers/check';
import './helpers/gpu';

const exact = { rtol: 0, atol: 0 };

test('reshape shares data and passes gradients back in the input shape', async () => {
  await checkOp({
    name: 'reshape',
    shapes: [[2, 3, 4]],
    gpu: (x) => x.reshape([4, -1]).mul(x.reshape([4, 6])),
    cpu: (x) => ({ data: x.data.map((v) => v * v), shape: [4, 6] }),
  });
  const x = fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
  const y = x.reshape([3, 2]);
  assert.equal(Array.from(await y.toArray()), [1, 2, 3, 4, 5, 6]);
  x.dispose();
  assert.equal(Array.from(await y.toArray()), [1, 2, 3, 4, 5, 6], 'a reshape keeps the storage alive');
  y.dispose();
});

test('permute and transpose, forward and backward', async () => {
  const cases: [number[], number[]][] = [
    [[3, 5], [1, 0]],
    [[2, 3, 4], [2, 0, 1]],
    [[2, 3, 4, 5], [0, 2, 3, 1]],
    [[1, 7, 1, 3], [3, 1, 2, 0]],
    [[33, 17], [1, 0]],
  ];
  for (const [shape, perm] of cases) {
    await checkOp({ name: `permute ${perm}`, shapes: [shape], gpu: (x) => x.permute(perm), cpu: (x) => refPermute(x, perm), forward: exact });
  }
  await checkOp({
    name: 'transpose',
    shapes: [[4, 6, 5]],
    gpu: (x) => x.transpose(0, 2),
    cpu: (x) => refPermute(x, [2, 1, 0]),
    forward: exact,
  });
});

test('broadcastTo, forward and backward', async () => {
  const cases: [number[], number[]][] = [
    [[1], [5]],
    [[3, 1], [3, 4]],
    [[4], [2, 3, 4]],
    [[2, 1, 3], [2, 5, 3]],
  ];
  for (const [shape, target] of cases) {
    await checkOp({
      name: `broadcastTo ${target}`,
      shapes: [shape],
      gpu: (x) => x.broadcastTo(target),
      cpu: (x) => refBroadcastTo(x, target),
      forward: exact,
    });
  }
});

test('slice along each axis, with negative and clamped bounds', async () => {
  const cases: [number[], number, number, number, number, number][] = [
    // shape, axis, start, end, resolved start, resolved end
    [[10], 0, 2, 7, 2, 7],
    [[4, 9], 1, -4, 100, 5, 9],
    [[5, 3, 4], 0, 1, 4, 1, 4],
    [[5, 3, 4], 2, 0, 1, 0, 1],
  ];
  for (const [shape, axis, start, end, s, e] of cases) {
    await checkOp({
      name: `slice axis ${axis} ${start}:${end}`,
      shapes: [shape],
      gpu: (x) => x.slice(axis, start, end),
      cpu: (x) => refSlice(x, axis, s, e),
      forward: exact,
    });
  }
});

test('concat along an axis, forward and backward to every input', async () => {
  const cases: [number[][], number][] = [
    [[[3], [5]], 0],
    [[[2, 3], [2, 1], [2, 4]], 1],
    [[[1, 3, 2], [4, 3, 2]], 0],
    [[[2, 3, 5], [2, 3, 2]], -1],
  ];
  for (const [shapes, axis] of cases) {
    const a = axis < 0 ? axis + shapes[0]!.length : axis;
    await checkOp({
      name: `concat axis ${axis}`,
      shapes,
      gpu: (...xs: Tensor[]) => concat(xs, axis),
      cpu: (...xs) => refConcat(xs, a),
      forward: exact,
    });
  }
});

test('gatherRows: permutations, repeats and unused rows; gradient adds back into the source rows', async () => {
  const cases: [number[], number[]][] = [
    [[5, 3], [4, 0, 3, 1, 2]],
    [[4, 2, 3], [1, 1, 3, 1]],
    [[6], [5, 0]],
    [[3, 7], [2]],
  ];
  for (const [shape, idx] of cases) {
    await checkOp({ name: `gatherRows ${idx}`, shapes: [shape], gpu: (x) => gatherRows(x, idx), cpu: (x) => refGatherRows(x, idx), forward: exact });
  }
  const x = fromArray([1, 2, 3], [3]);
  assertThrows(() => gatherRows(x, [0, 3]), 'gatherRows', 'index 3', '[0, 3)');
  x.dispose();
});

test.run();
