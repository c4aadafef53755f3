import { test } from 'uvu';
import { refReduce } from '../lib/cpu/index';
import { caseGenerator, checkOp } from './helpers/check';
import { onPath } from './helpers/gpu';

// Reduction lengths: 1, short (column kernel), ≥ 32 (row kernel), primes, and long rows.
const CASES: { shape: number[]; axes?: number[]; keepdim?: boolean }[] = [
  { shape: [1] },
  { shape: [7] },
  { shape: [3, 5], axes: [1] },
  { shape: [3, 5], axes: [0] },
  { shape: [4, 33], axes: [1] },
  { shape: [2, 3, 4, 5], axes: [1, 2], keepdim: true },
  { shape: [2, 3, 4, 5], axes: [0, 3] },
  { shape: [2, 3, 4, 5], axes: [0, 2] },
  { shape: [6, 1031], axes: [-1] },
  { shape: [70, 3], axes: [0], keepdim: true },
  { shape: [3, 4, 5] },
];

function distinctValues(n: number): Float32Array {
  const g = caseGenerator();
  const perm = g.permutation(n);
  return Float32Array.from(perm, (p) => (p - n / 2) * 0.01 + 0.002 * g.uniform());
}

for (const op of ['sum', 'mean', 'max'] as const) {
  for (const subgroups of [true, false]) {
    test(`${op} over axes (${subgroups ? 'subgroup' : 'workgroup-memory'} row kernel), forward and backward`, async () => {
      await onPath(subgroups, async () => {
        for (const c of CASES) {
          const n = c.shape.reduce((a, b) => a * b, 1);
          // max: distinct values at least 0.008 apart (a shuffled ramp plus jitter), so no
          // finite-difference step of 1e-5 crosses a tie between the largest two of a group.
          const values = op === 'max' ? distinctValues(n) : null;
          let next = 0;
          await checkOp({
            name: `${op} axes=${c.axes ?? 'all'} keepdim=${!!c.keepdim}`,
            shapes: [c.shape],
            gpu: (x) => x[op](c.axes, c.keepdim ?? false),
            cpu: (x) => refReduce(op, x, c.axes, c.keepdim ?? false),
            ...(values ? { draw: () => values[next++]! } : {}),
            // Summation order differs from float64's: error grows like √n · ε.
            forward: { rtol: 1e-5, atol: 2e-6 * Math.sqrt(n) },
            backward: { rtol: 1e-3, atol: 1e-4 },
          });
        }
      });
    });
  }
}

test('sum of a long row (65,537 elements) and of many short rows', async () => {
  // 70,001 rows of 40 take the row kernel with the grid folded into y (over 65,535 workgroups).
  for (const shape of [[2, 65537], [70001, 2], [70001, 40]]) {
    await checkOp({
      name: 'sum rows',
      shapes: [shape],
      gpu: (x) => x.sum(-1),
      cpu: (x) => refReduce('sum', x, [-1]),
      forward: { rtol: 1e-5, atol: 1e-5 * Math.sqrt(shape[1]!) },
      backward: false,
    });
  }
});

test.run();
