// checkOp: one GPU op against its float64 CPU reference, forward and backward.
// Forward: the GPU output vs the reference on the same (float32-representable) random inputs.
// Backward: y.backward(w) for random weights w, against central finite differences of
// Σ w·reference(x) in float64. Afterwards no tensor may be left alive (no leak through autograd).
import { Generator, fromArray, liveTensorCount, scope, type Tensor } from '../../lib/index';
import { finiteDifferences, weightedSum, type RefArray } from '../../lib/cpu/index';
import { assertClose, type Tolerance } from './assert';
import { seed } from './gpu';

let caseCounter = 0;

/** A generator for one test case, derived from the run's seed. */
export function caseGenerator(): Generator {
  return new Generator(seed * 7919 + caseCounter++);
}

export function randomArray(g: Generator, n: number, draw: (g: Generator) => number = (r) => r.normal()): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = draw(g);
  return a;
}

export interface OpCase {
  name: string;
  shapes: number[][];
  gpu: (...xs: Tensor[]) => Tensor;
  cpu: (...xs: RefArray[]) => RefArray;
  /** Draws one input value (default standard normal); `input` is the operand index. */
  draw?: (g: Generator, input: number) => number;
  forward?: Tolerance;
  backward?: Tolerance | false;
  /** Which inputs get gradients (default all). */
  requiresGrad?: boolean[];
}

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

export async function checkOp(c: OpCase): Promise<void> {
  const before = liveTensorCount();
  const g = caseGenerator();
  const draw = c.draw ?? ((r: Generator) => r.normal());
  const hostInputs = c.shapes.map((s, i) => randomArray(g, size(s), (r) => draw(r, i)));
  const wantGrad = c.shapes.map((_, i) => c.backward !== false && (c.requiresGrad?.[i] ?? true));
  const inputs = c.shapes.map((s, i) => fromArray(hostInputs[i]!, s, { requiresGrad: wantGrad[i] }));
  const label = `${c.name} [${c.shapes.map((s) => `[${s}]`).join(' ')}]`;
  try {
    const y = scope(() => c.gpu(...inputs)); // intermediates die here; autograd keeps what it needs
    const refs = c.shapes.map((s, i) => ({ data: Float64Array.from(hostInputs[i]!), shape: s }));
    const expected = c.cpu(...refs);
    if (y.shape.join() !== expected.shape.join()) {
      throw new Error(`${label}: output shape [${y.shape}], reference [${expected.shape}]`);
    }
    assertClose(await y.toArray(), expected.data, c.forward ?? { rtol: 1e-5, atol: 1e-6 }, `${label} forward`);
    if (c.backward !== false) {
      const w = randomArray(g, y.size);
      const wt = fromArray(w, y.shape);
      y.backward(wt);
      wt.dispose();
      const f = (xs: Float64Array[]) => weightedSum(c.cpu(...xs.map((data, i) => ({ data, shape: c.shapes[i]! }))).data, w);
      const fd = finiteDifferences(f, refs.map((r) => r.data));
      for (let i = 0; i < inputs.length; i++) {
        if (!wantGrad[i]) continue;
        const grad = inputs[i]!.grad;
        if (!grad) throw new Error(`${label}: input ${i} got no gradient`);
        if (grad.shape.join() !== c.shapes[i]!.join()) throw new Error(`${label}: gradient ${i} has shape [${grad.shape}]`);
        assertClose(await grad.toArray(), fd[i]!, c.backward ?? { rtol: 1e-3, atol: 1e-4 }, `${label} grad ${i}`);
      }
    }
    y.dispose();
  } finally {
    inputs.forEach((t) => t.dispose());
  }
  const after = liveTensorCount();
  if (after !== before) throw new Error(`${label}: ${after - before} tensors were left alive`);
}
