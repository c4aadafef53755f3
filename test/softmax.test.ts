// softmax, logSoftmax and crossEntropy against the float64 CPU reference (lib/cpu/softmax.ts):
// forward on fresh random inputs over row lengths 1, 2, 7, 31, 65, 1000, 65537 and row counts 1, 3
// and 70000 (past 65535 rows the grid folds into y), logits of ±100, backward against central
// finite differences (small) and the analytic CPU gradient (large), every label form of
// crossEntropy and its errors. Each test runs the subgroup kernels and the kernels without them.
//
// Tolerances follow float32 rounding of the exponent: exp(x − lse) carries the absolute error of
// x − lse, about (|x| + |lse|)·2⁻²⁴ per rounding, as a relative error of the result, and
// log-softmax carries it as an absolute error. With logits of magnitude X we allow 4e-7·(4 + 2X)
// relative (softmax) and absolute (log-softmax): 5–10× the worst error measured (logits of scale
// 3, 20 and ±100, rows of 7 to 65537, both kernel paths).
import { test } from 'uvu';
import { crossEntropy, fromArray, liveTensorCount, logSoftmax, softmax, zeros, type Tensor } from '../lib/index';
import {
  refCrossEntropy,
  refCrossEntropyBackward,
  refLogSoftmax,
  refLogSoftmaxBackward,
  refSoftmax,
  refSoftmaxBackward,
  type RefArray,
} from '../lib/cpu/index';
import { assertClose, assertThrows, type Tolerance } from './helpers/assert';
import { caseGenerator, checkOp, randomArray } from './helpers/check';
import { onPath as onPathOf, pathName } from './helpers/gpu';

const PATHS = [true, false] as const;
/** Runs fn with the subgroup kernels on or off, and checks no tensor was left alive. */
const onPath = (subgroups: boolean, fn: () => Promise<void>) => onPathOf(subgroups, fn, { checkLeaks: true });

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** Tolerance of softmax (relative) and log-softmax (absolute) outputs for logits up to |x| = X. */
function rowTolerance(kind: 'softmax' | 'logSoftmax', x: ArrayLike<number>): Tolerance {
  const e = 4e-7 * (4 + 2 * maxAbs(x));
  return kind === 'softmax' ? { rtol: e, atol: 1e-30 } : { rtol: 0, atol: e };
}

const OPS = {
  softmax: { gpu: softmax, cpu: refSoftmax, grad: refSoftmaxBackward },
  logSoftmax: { gpu: logSoftmax, cpu: refLogSoftmax, grad: refLogSoftmaxBackward },
} as const;
type Kind = keyof typeof OPS;

/** Forward of `kind` on `data` of `shape` against the reference. */
async function checkForward(kind: Kind, data: Float32Array, shape: number[]): Promise<void> {
  const x = fromArray(data, shape);
  const y = OPS[kind].gpu(x);
  const expected = OPS[kind].cpu({ data: Float64Array.from(data), shape });
  assertClose(await y.toArray(), expected.data, rowTolerance(kind, data), `${kind} [${shape}] forward`);
  x.dispose();
  y.dispose();
}

test('softmax and logSoftmax forward: row lengths 1…65537, row counts 1, 3 and 70000, both kernel paths', async () => {
  const shapes: number[][] = [];
  for (const cols of [1, 2, 7, 31, 65, 1000, 65537]) for (const rows of [1, 3]) shapes.push([rows, cols]);
  shapes.push([70000, 1], [70001, 7], [2, 3, 8], [8], [5, 4, 4]);
  for (const subgroups of PATHS) {
    await onPath(subgroups, async () => {
      for (const shape of shapes) {
        const g = caseGenerator();
        const data = randomArray(g, shape.reduce((a, b) => a * b, 1), (r) => 3 * r.normal());
        for (const kind of ['softmax', 'logSoftmax'] as const) await checkForward(kind, data, shape);
      }
    });
  }
});

test('logits of ±100 (and a lone spike) give finite, accurate results', async () => {
  for (const subgroups of PATHS) {
    await onPath(subgroups, async () => {
      for (const shape of [[4, 7], [3, 1000], [2, 65537], [300, 3]]) {
        const g = caseGenerator();
        const data = randomArray(g, shape[0]! * shape[1]!, (r) => r.uniformRange(-100, 100));
        for (const kind of ['softmax', 'logSoftmax'] as const) await checkForward(kind, data, shape);
      }
      // One row where a single logit dominates by 200: the others underflow to 0, log-softmax stays exact.
      const spike = new Float32Array(33).fill(-100);
      spike[17] = 100;
      for (const kind of ['softmax', 'logSoftmax'] as const) await checkForward(kind, spike, [1, 33]);
    });
  }
});

test('softmax and logSoftmax backward vs finite differences (small shapes)', async () => {
  for (const subgroups of PATHS) {
    await onPath(subgroups, async () => {
      for (const shape of [[1], [5], [3, 7], [2, 3, 5], [4, 9]]) {
        for (const kind of ['softmax', 'logSoftmax'] as const) {
          await checkOp({
            name: `${kind} (${pathName(subgroups)})`,
            shapes: [shape],
            gpu: (x) => OPS[kind].gpu(x),
            cpu: (x) => OPS[kind].cpu(x),
            draw: (r) => 2 * r.normal(),
            forward: { rtol: 1e-5, atol: 1e-6 },
            backward: { rtol: 1e-3, atol: 1e-4 },
          });
        }
      }
    });
  }
});

/** x.grad of sum(w · f(x)) on the GPU, with the analytic CPU gradient of the same. */
async function gradients(
  f: (x: Tensor) => Tensor,
  ref: (x: RefArray, w: RefArray) => RefArray,
  data: Float32Array,
  shape: number[],
  w: Float32Array,
): Promise<{ actual: Float32Array; expected: Float64Array }> {
  const x = fromArray(data, shape, { requiresGrad: true });
  const y = f(x);
  const wt = fromArray(w, y.shape);
  y.backward(wt);
  const actual = await x.grad!.toArray();
  [x, y, wt].forEach((t) => t.dispose());
  const expected = ref({ data: Float64Array.from(data), shape }, { data: Float64Array.from(w), shape }).data;
  return { actual, expected };
}

test('softmax and logSoftmax backward vs the analytic CPU gradient (large shapes)', async () => {
  for (const subgroups of PATHS) {
    await onPath(subgroups, async () => {
      for (const shape of [[3, 1000], [2, 65537], [70000, 3], [6, 1024], [5, 31]]) {
        const g = caseGenerator();
        const n = shape[0]! * shape[1]!;
        const data = randomArray(g, n, (r) => 3 * r.normal());
        const w = randomArray(g, n);
        for (const kind of ['softmax', 'logSoftmax'] as const) {
          const { actual, expected } = await gradients(OPS[kind].gpu, OPS[kind].grad, data, shape, w);
          // dx = y·(g − Σg·y) and g − p·Σg cancel: the error is absolute, a few ulps of the terms.
          const scale = kind === 'softmax' ? maxAbs(expected) : Math.max(1, maxAbs(w));
          assertClose(actual, expected, { rtol: 1e-4, atol: 2e-5 * scale }, `${kind} [${shape}] backward`);
        }
      }
    });
  }
});

test('softmax of a scalar throws; empty rows give empty results', async () => {
  const s = fromArray([1], []);
  assertThrows(() => softmax(s), 'softmax', 'shape []', 'at least one axis');
  assertThrows(() => logSoftmax(s), 'logSoftmax', 'shape []');
  s.dispose();
  for (const shape of [[0, 5], [3, 0]]) {
    const x = fromArray([], shape);
    const y = softmax(x);
    if (y.shape.join() !== shape.join() || (await y.toArray()).length !== 0) throw new Error(`softmax [${shape}]: not empty`);
    x.dispose();
    y.dispose();
  }
});

// ---- crossEntropy

function randomLabels(n: number, c: number): number[] {
  const g = caseGenerator();
  return Array.from({ length: n }, () => g.int(c));
}

const LABEL_FORMS = ['Int32Array', 'number[]', 'Tensor'] as const;

/** Runs fn with the labels in the given form (a Tensor form is disposed afterwards). */
async function withLabels(form: (typeof LABEL_FORMS)[number], labels: number[], fn: (l: Tensor | Int32Array | number[]) => Promise<void>) {
  if (form === 'Tensor') {
    const t = fromArray(labels, [labels.length]);
    try {
      await fn(t);
    } finally {
      t.dispose();
    }
  } else await fn(form === 'Int32Array' ? Int32Array.from(labels) : [...labels]);
}

test('crossEntropy forward and analytic backward, every label form, both kernel paths', async () => {
  for (const subgroups of PATHS) {
    await onPath(subgroups, async () => {
      for (const [n, c] of [[1, 1], [3, 2], [5, 7], [16, 1000], [3, 65537], [70000, 3], [4, 1024]] as const) {
        const g = caseGenerator();
        const data = randomArray(g, n * c, (r) => 20 * r.normal()); // MoCo-like logits (temperature 0.05–0.2)
        const labels = randomLabels(n, c);
        const ref = { data: Float64Array.from(data), shape: [n, c] };
        const expectedLoss = refCrossEntropy(ref, labels).data;
        const expectedGrad = refCrossEntropyBackward(ref, labels, 1).data;
        for (const form of LABEL_FORMS) {
          await withLabels(form, labels, async (l) => {
            const x = fromArray(data, [n, c], { requiresGrad: true });
            const loss = crossEntropy(x, l);
            if (loss.shape.length !== 0) throw new Error(`crossEntropy: loss of shape [${loss.shape}], expected []`);
            const label = `crossEntropy [${n}, ${c}] labels as ${form}`;
            // loss = mean(lse − x[label]): the error is a few ulps of |lse| + |x|.
            const tol = 1e-6 * (4 + 2 * maxAbs(data));
            assertClose(await loss.toArray(), expectedLoss, { rtol: tol, atol: tol }, `${label} loss`);
            loss.backward();
            // (p − onehot)/N: p carries the relative error of exp(x − lse) (see rowTolerance), which
            // near p = 1 is an absolute error of the difference.
            const gtol = 4e-7 * (4 + 2 * maxAbs(data));
            assertClose(await x.grad!.toArray(), expectedGrad, { rtol: gtol, atol: gtol / n }, `${label} grad`);
            x.dispose();
            loss.dispose();
          });
        }
      }
    });
  }
});

test('crossEntropy with logits of ±100 (and a label far below a spike): finite loss and gradient, exact', async () => {
  for (const subgroups of PATHS) {
    await onPath(subgroups, async () => {
      const cases: { n: number; c: number; data: Float32Array; labels: number[] }[] = [];
      for (const [n, c] of [[4, 7], [3, 1000], [2, 65537], [300, 3]] as const) {
        const data = randomArray(caseGenerator(), n * c, (r) => r.uniformRange(-100, 100));
        cases.push({ n, c, data, labels: randomLabels(n, c) });
      }
      // Every logit −100 but one +100, and the label on a −100: loss 200, the label's probability e^−200 underflows.
      const spike = new Float32Array(2 * 33).fill(-100);
      spike[17] = 100;
      spike[33 + 5] = 100;
      cases.push({ n: 2, c: 33, data: spike, labels: [3, 5] });
      for (const { n, c, data, labels } of cases) {
        const ref = { data: Float64Array.from(data), shape: [n, c] };
        const label = `crossEntropy [${n}, ${c}] logits in ±100 (${pathName(subgroups)})`;
        const x = fromArray(data, [n, c], { requiresGrad: true });
        const loss = crossEntropy(x, labels);
        const tol = 1e-6 * (4 + 2 * 100);
        assertClose(await loss.toArray(), refCrossEntropy(ref, labels).data, { rtol: tol, atol: tol }, `${label} loss`);
        loss.backward();
        const gtol = 4e-7 * (4 + 2 * 100);
        assertClose(await x.grad!.toArray(), refCrossEntropyBackward(ref, labels, 1).data, { rtol: gtol, atol: gtol / n }, `${label} grad`);
        x.dispose();
        loss.dispose();
      }
    });
  }
});

test('crossEntropy backward vs finite differences (small shapes), a non-unit upstream gradient', async () => {
  for (const subgroups of PATHS) {
    await onPath(subgroups, async () => {
      for (const [n, c] of [[1, 1], [3, 2], [4, 7], [2, 13]] as const) {
        const labels = randomLabels(n, c);
        await checkOp({
          name: `crossEntropy ×2.5 (${pathName(subgroups)})`,
          shapes: [[n, c]],
          gpu: (x) => crossEntropy(x, labels).mul(2.5),
          cpu: (x) => ({ data: refCrossEntropy(x, labels).data.map((v) => v * 2.5), shape: [] }),
          draw: (r) => 3 * r.normal(),
          forward: { rtol: 1e-5, atol: 1e-5 },
          backward: { rtol: 1e-3, atol: 1e-4 },
        });
      }
    });
  }
});

test('crossEntropy: a label tensor with an invalid class gives NaN for that row only', async () => {
  for (const subgroups of PATHS) {
    await onPath(subgroups, async () => {
      for (const bad of [-1, 5, 2.5, NaN]) {
        const g = caseGenerator();
        const data = randomArray(g, 4 * 5);
        const x = fromArray(data, [4, 5], { requiresGrad: true });
        const labels = fromArray([1, bad, 4, 0], [4]);
        const loss = crossEntropy(x, labels);
        const value = await loss.item();
        if (!Number.isNaN(value)) throw new Error(`crossEntropy with label ${bad}: loss ${value}, expected NaN`);
        loss.backward();
        const grad = await x.grad!.toArray();
        for (let j = 0; j < 20; j++) {
          const rowIsBad = Math.floor(j / 5) === 1;
          if (rowIsBad !== Number.isNaN(grad[j]!)) {
            throw new Error(`crossEntropy with label ${bad}: grad[${j}] = ${grad[j]} (row ${Math.floor(j / 5)})`);
          }
        }
        // The valid rows still get (p − onehot)/N.
        const ref = refCrossEntropyBackward({ data: Float64Array.from(data), shape: [4, 5] }, [1, 0, 4, 0], 1).data;
        const keep = (a: ArrayLike<number>) => [0, 2, 3].flatMap((r) => Array.from({ length: 5 }, (_, j) => a[r * 5 + j]!));
        assertClose(keep(grad), keep(ref), { rtol: 1e-5, atol: 1e-8 }, `crossEntropy with label ${bad}: valid rows`);
        [x, labels, loss].forEach((t) => t.dispose());
      }
    });
  }
});

test('crossEntropy: bad labels and logits throw errors naming the op, the shapes and the label', () => {
  const before = liveTensorCount();
  const x = fromArray(new Float32Array(12), [3, 4]);
  assertThrows(() => crossEntropy(x, [0, 1, 4]), 'crossEntropy', 'label 4 at row 2', '[3, 4]', '[0, 4)');
  assertThrows(() => crossEntropy(x, [0, -1, 2]), 'crossEntropy', 'label -1 at row 1', '[0, 4)');
  assertThrows(() => crossEntropy(x, Int32Array.of(0, 1, 9)), 'crossEntropy', 'label 9 at row 2');
  assertThrows(() => crossEntropy(x, [0.5, 1, 2]), 'crossEntropy', 'label 0.5 at row 0', 'integer');
  assertThrows(() => crossEntropy(x, [0, NaN, 2]), 'crossEntropy', 'label NaN at row 1');
  assertThrows(() => crossEntropy(x, [0, 1]), 'crossEntropy', '2 labels', '[3, 4]', 'expected 3');
  const wrong = fromArray([0, 1], [2]);
  assertThrows(() => crossEntropy(x, wrong), 'crossEntropy', 'labels of shape [2]', '[3, 4]', 'expected [3]');
  const matrix = fromArray([0, 1, 2], [3, 1]);
  assertThrows(() => crossEntropy(x, matrix), 'crossEntropy', 'labels of shape [3, 1]', 'expected [3]');
  const flat = fromArray(new Float32Array(4), [4]);
  assertThrows(() => crossEntropy(flat, [0]), 'crossEntropy', 'logits of shape [4]', 'expected [N, C]');
  const empty = fromArray([], [0, 4]);
  assertThrows(() => crossEntropy(empty, []), 'crossEntropy', 'logits of shape [0, 4]', 'N ≥ 1');
  assertThrows(() => crossEntropy(x, 'abc' as unknown as number[]), 'crossEntropy', 'labels must be');
  const huge = zeros([1, 2 ** 23 + 1]);
  assertThrows(() => crossEntropy(huge, [0]), 'crossEntropy', '[1, 8388609]', 'more than 8388608 classes');
  [x, wrong, matrix, flat, empty, huge].forEach((t) => t.dispose());
  if (liveTensorCount() !== before) throw new Error('crossEntropy errors leaked tensors');
});

test.run();
