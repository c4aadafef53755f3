// l2Normalize against the float64 CPU reference (lib/cpu/normalize.ts): forward on fresh random
// inputs over row lengths 1, 2, 7, 31, 65, 1000, 65537 and row counts 1, 3 and 70000 (the grid
// folds past 65535 rows), rows with norms below eps, backward against central finite differences
// (small) and the analytic CPU gradient (large), and its errors. Each test runs the subgroup
// kernels and the kernels without them.
//
// Tolerances: y = x · (1 / max(‖x‖, eps)) is a few float32 roundings of each element (rtol 2e-6,
// 7× the worst error measured); the backward (g − y·Σg·y)/‖x‖ cancels, so its error is absolute,
// a few ulps of the largest |g|/‖x‖.
import { test } from 'uvu';
import { fromArray, l2Normalize } from '../lib/index';
import { refL2Normalize, refL2NormalizeBackward } from '../lib/cpu/index';
import { assertClose, assertThrows } from './helpers/assert';
import { caseGenerator, checkOp, randomArray } from './helpers/check';
import { onPath as onPathOf, pathName } from './helpers/gpu';

const PATHS = [true, false] as const;
/** Runs fn with the subgroup kernels on or off, and checks no tensor was left alive. */
const onPath = (subgroups: boolean, fn: () => Promise<void>) => onPathOf(subgroups, fn, { checkLeaks: true });

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** Random rows; the rows listed in `tiny` are scaled so that their norm is below `eps`. */
function rowsWithTiny(shape: number[], tiny: number[], eps: number): Float32Array {
  const g = caseGenerator();
  const data = randomArray(g, size(shape));
  const cols = shape[shape.length - 1]!;
  for (const r of tiny) {
    for (let j = 0; j < cols; j++) data[r * cols + j] = (data[r * cols + j]! * eps) / (4 * Math.sqrt(cols));
  }
  return data;
}

test('l2Normalize forward: row lengths 1…65537, row counts 1, 3 and 70000, both kernel paths', async () => {
  const shapes: number[][] = [];
  for (const cols of [1, 2, 7, 31, 65, 1000, 65537]) for (const rows of [1, 3]) shapes.push([rows, cols]);
  shapes.push([70000, 1], [70001, 7], [2, 3, 8], [8], [256, 128]);
  for (const subgroups of PATHS) {
    await onPath(subgroups, async () => {
      for (const shape of shapes) {
        const data = randomArray(caseGenerator(), size(shape), (r) => 5 * r.normal());
        const x = fromArray(data, shape);
        const y = l2Normalize(x);
        const expected = refL2Normalize({ data: Float64Array.from(data), shape }).data;
        assertClose(await y.toArray(), expected, { rtol: 2e-6, atol: 1e-30 }, `l2Normalize [${shape}]`);
        x.dispose();
        y.dispose();
      }
    });
  }
});

test('l2Normalize: rows below eps are divided by eps, zero rows give zeros, eps is honoured', async () => {
  for (const subgroups of PATHS) {
    await onPath(subgroups, async () => {
      for (const eps of [1e-12, 0.5]) {
        const shape = [5, 6];
        const data = rowsWithTiny(shape, [1, 3], eps);
        data.fill(0, 24, 30); // row 4 is all zeros
        const x = fromArray(data, shape);
        const y = l2Normalize(x, eps);
        const expected = refL2Normalize({ data: Float64Array.from(data), shape }, eps).data;
        assertClose(await y.toArray(), expected, { rtol: 2e-6, atol: 1e-30 }, `l2Normalize eps ${eps}`);
        x.dispose();
        y.dispose();
      }
    });
  }
});

test('l2Normalize backward vs finite differences (small shapes, norms above and below eps)', async () => {
  for (const subgroups of PATHS) {
    await onPath(subgroups, async () => {
      for (const shape of [[1], [5], [3, 7], [2, 3, 4], [4, 9]]) {
        await checkOp({
          name: `l2Normalize (${pathName(subgroups)})`,
          shapes: [shape],
          gpu: (x) => l2Normalize(x),
          cpu: (x) => refL2Normalize(x),
          forward: { rtol: 2e-6, atol: 1e-7 },
          backward: { rtol: 1e-3, atol: 1e-4 },
        });
      }
      // eps = 1: rows of norm ~0.3 are in the linear region y = x / eps; rows of norm ~3 are not.
      for (const scale of [0.1, 1]) {
        await checkOp({
          name: `l2Normalize eps 1, |x| ~ ${scale} (${pathName(subgroups)})`,
          shapes: [[3, 5]],
          gpu: (x) => l2Normalize(x, 1),
          cpu: (x) => refL2Normalize(x, 1),
          draw: (r) => scale * r.normal(),
          forward: { rtol: 2e-6, atol: 1e-7 },
          backward: { rtol: 1e-3, atol: 1e-4 },
        });
      }
    });
  }
});

test('l2Normalize backward vs the analytic CPU gradient (large shapes)', async () => {
  for (const subgroups of PATHS) {
    await onPath(subgroups, async () => {
      const cases: [number[], number[], number][] = [
        [[256, 128], [], 1e-12],
        [[3, 65537], [], 1e-12],
        [[70000, 3], [], 1e-12],
        [[7, 1000], [2, 5], 1e-3],
        [[6, 31], [0], 0.5],
      ];
      for (const [shape, tiny, eps] of cases) {
        const g = caseGenerator();
        const data = rowsWithTiny(shape, tiny, eps);
        const w = randomArray(g, size(shape));
        const x = fromArray(data, shape, { requiresGrad: true });
        const y = l2Normalize(x, eps);
        const wt = fromArray(w, shape);
        y.backward(wt);
        const actual = await x.grad!.toArray();
        [x, y, wt].forEach((t) => t.dispose());
        const expected = refL2NormalizeBackward({ data: Float64Array.from(data), shape }, { data: Float64Array.from(w), shape }, eps).data;
        // Per row the terms are ~|g|/‖x‖; compare with an absolute error of a few ulps of the largest.
        let big = 0;
        for (const v of expected) big = Math.max(big, Math.abs(v));
        assertClose(actual, expected, { rtol: 1e-4, atol: 4e-6 * big }, `l2Normalize [${shape}] eps ${eps} backward`);
      }
    });
  }
});

test('l2Normalize: bad eps and a scalar throw errors naming the op', () => {
  const x = fromArray([1, 2, 3], [3]);
  assertThrows(() => l2Normalize(x, 0), 'l2Normalize', 'eps', 'got 0', '[3]');
  assertThrows(() => l2Normalize(x, -1), 'l2Normalize', 'eps');
  assertThrows(() => l2Normalize(x, NaN), 'l2Normalize', 'eps');
  const s = fromArray([2], []);
  assertThrows(() => l2Normalize(s), 'l2Normalize', 'shape []', 'at least one axis');
  [x, s].forEach((t) => t.dispose());
});

test.run();
