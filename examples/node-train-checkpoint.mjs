// A small training loop in Node: an MLP learns to tell three spiral arms apart, with SGD + momentum
// and a cosine learning-rate schedule; then the model is saved as a safetensors checkpoint, loaded
// into a fresh model, and the two are checked to agree.
// Run: node examples/node-train-checkpoint.mjs [checkpoint path]   (default: a file in the OS temp dir)
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  initNode, fromArray, scope, memory, noGrad, Generator, Sequential, Linear, ReLU, SGD, cosineSchedule,
  saveSafetensors, loadSafetensors, writeFileAtomic,
} from 'wgtensor/node';

await initNode();

// Data: 3 spiral arms of 64 points in 2-D, with a little noise.
const g = new Generator(7);
const perClass = 64;
const points = [];
const labels = [];
for (let c = 0; c < 3; c++) {
  for (let i = 0; i < perClass; i++) {
    const r = (i + 1) / perClass;
    const angle = (2 * Math.PI * c) / 3 + 3 * r + 0.15 * g.normal();
    points.push(r * Math.cos(angle), r * Math.sin(angle));
    labels.push(c);
  }
}
const x = fromArray(points, [labels.length, 2]);

const makeModel = () => new Sequential(new Linear(2, 64, { generator: g }), new ReLU(), new Linear(64, 64, { generator: g }), new ReLU(), new Linear(64, 3, { generator: g }));
const model = makeModel();
model.flatten(); // all parameters in one GPU buffer: the optimizer step is one dispatch
const steps = 300;
const optimizer = new SGD(model.parameters(), { lr: 0.2, momentum: 0.9 });
const schedule = cosineSchedule(0.2, steps);

const predict = async (m) => {
  const out = noGrad(() => m.forward(x)); // no autograd graph for evaluation
  const values = await out.toArray();
  out.dispose();
  return values;
};
const accuracy = async (m) => {
  const predicted = await predict(m);
  let right = 0;
  for (let i = 0; i < labels.length; i++) {
    const row = predicted.subarray(3 * i, 3 * i + 3);
    if (row.indexOf(Math.max(...row)) === labels[i]) right++;
  }
  return right / labels.length;
};

let firstLoss = NaN;
let lastLoss = NaN;
let tensorsAfterFirstStep = 0;
for (let step = 0; step < steps; step++) {
  optimizer.lr = schedule(step);
  const loss = scope(() => {
    const l = model.forward(x).crossEntropy(labels);
    l.backward();
    return l;
  });
  optimizer.step();
  optimizer.zeroGrad();
  if (step === 0 || step === steps - 1 || step % 50 === 0) {
    const value = await loss.item();
    if (step === 0) firstLoss = value;
    lastLoss = value;
    console.log(`step ${String(step).padStart(3)}  loss ${value.toFixed(4)}  lr ${optimizer.lr.toFixed(4)}`);
  }
  loss.dispose();
  if (step === 0) tensorsAfterFirstStep = memory().tensors;
  else if (memory().tensors !== tensorsAfterFirstStep) throw new Error(`step ${step} leaked tensors`);
}
const trainedAccuracy = await accuracy(model);
console.log(`loss ${firstLoss.toFixed(4)} → ${lastLoss.toFixed(4)}, training accuracy ${(100 * trainedAccuracy).toFixed(1)}%`);
if (!(lastLoss < 0.5 * firstLoss) || trainedAccuracy < 0.9) throw new Error('the model did not learn the spirals');

// Checkpoint: PyTorch state_dict names, safetensors format, written atomically.
const path = process.argv[2] ?? join(mkdtempSync(join(tmpdir(), 'wgtensor-example-')), 'spirals.safetensors');
writeFileAtomic(path, await saveSafetensors(model, { example: 'spirals', steps: String(steps) }));
console.log(`saved ${path}`);

const restored = makeModel(); // fresh random weights...
const metadata = loadSafetensors(restored, await readFile(path)); // ...replaced by the checkpoint's
const [a, b] = [await predict(model), await predict(restored)];
const maxDiff = a.reduce((d, v, i) => Math.max(d, Math.abs(v - b[i])), 0);
console.log(`restored model (metadata ${JSON.stringify(metadata)}): max output difference ${maxDiff}`);
if (maxDiff !== 0 || (await accuracy(restored)) !== trainedAccuracy) throw new Error('the restored model differs');

[model, restored, optimizer, x].forEach((t) => t.dispose());
if (memory().tensors !== 0) throw new Error(`${memory().tensors} tensors were not disposed`);
console.log('node-train-checkpoint: ok');
