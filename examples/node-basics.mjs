// Tensors, ops, autograd and memory in Node.
// Run: npm run build && node examples/node-basics.mjs   (or, in a project that installed wgtensor,
// copy this file there and run it with node). It checks its own results and exits 1 if one is off.
import { initNode, fromArray, randn, scope, memory, Generator } from 'wgtensor/node';

const ctx = await initNode(); // the first WebGPU adapter Dawn finds (lavapipe on a machine without a GPU)
console.log(`adapter: ${ctx.adapter.description || ctx.adapter.device}`);

function check(label, actual, expected, tol = 1e-5) {
  const bad = expected.findIndex((e, i) => !(Math.abs(actual[i] - e) <= tol * (1 + Math.abs(e))));
  if (actual.length !== expected.length || bad >= 0) {
    throw new Error(`${label}: got [${[...actual]}], expected [${expected}]`);
  }
  console.log(`${label}: [${[...actual].map((v) => +v.toFixed(4))}]`);
}

// Tensors are float32, row-major; ops return new tensors; toArray() reads them back.
const a = fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
const b = fromArray([10, 20, 30], [3]);
check('a + b (broadcast)', await a.add(b).toArray(), [11, 22, 33, 14, 25, 36]);
check('a · aᵀ', await a.matmul(a, { transB: true }).toArray(), [14, 32, 32, 77]);
check('softmax rows of a', await a.softmax().toArray(), [0.0900306, 0.2447285, 0.6652410, 0.0900306, 0.2447285, 0.6652410]);
check('sum over axis 0', await a.sum(0).toArray(), [5, 7, 9]);

// Autograd: mark leaves with requiresGrad, call backward() on a scalar, read .grad.
const x = fromArray([0.5, -1, 2], [3], { requiresGrad: true });
const y = x.mul(x).add(x.relu()).sum(); // Σ x² + relu(x)
y.backward();
check('y', [await y.item()], [0.25 + 1 + 4 + 0.5 + 2]);
check('dy/dx = 2x + [x > 0]', await x.grad.toArray(), [2, -2, 5]);

// Memory: scope() frees every tensor made inside except what it returns; dispose() frees one.
const before = memory().tensors;
const g = new Generator(42);
const norm = scope(() => {
  const m = randn([64, 64], { generator: g });
  const gram = m.matmul(m, { transA: true }); // mᵀm, an intermediate freed when the scope ends
  return gram.mul(gram).sum().sqrt(); // ‖mᵀm‖_F
});
console.log(`Frobenius norm of mᵀm: ${(await norm.item()).toFixed(3)}`);
norm.dispose();
if (memory().tensors !== before) throw new Error(`scope leaked: ${memory().tensors - before} tensors`);
console.log(`live tensors: ${memory().tensors}, GPU bytes in use: ${memory().bytesInUse}`);
console.log('node-basics: ok');
