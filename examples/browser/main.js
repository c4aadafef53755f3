// The browser example: the same library bundle as in Node, given the page's navigator.gpu by init().
// It trains a small MLP on three spiral arms, then paints the class it predicts over the plane.
// The page reports its outcome in document.body.dataset (status, firstLoss, lastLoss, accuracy),
// which the repository's browser test reads.
import { init, fromArray, scope, noGrad, Generator, Sequential, Linear, ReLU, Adam } from 'wgtensor';

const $ = (id) => document.getElementById(id);
const log = (line) => ($('log').textContent += `${line}\n`);
const COLORS = [[230, 85, 13], [49, 130, 189], [49, 163, 84]];

async function main() {
  const ctx = await init(); // navigator.gpu; init({ device }) takes a GPUDevice the page already has
  $('adapter').textContent = `WebGPU adapter: ${ctx.adapter.vendor} ${ctx.adapter.architecture} ${ctx.adapter.description}`.trim();

  // Three spiral arms of 64 points each.
  const g = new Generator(3);
  const points = [];
  const labels = [];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < 64; i++) {
      const r = (i + 1) / 64;
      const angle = (2 * Math.PI * c) / 3 + 3 * r + 0.15 * g.normal();
      points.push(r * Math.cos(angle), r * Math.sin(angle));
      labels.push(c);
    }
  }
  const x = fromArray(points, [labels.length, 2]);
  const model = new Sequential(new Linear(2, 64, { generator: g }), new ReLU(), new Linear(64, 64, { generator: g }), new ReLU(), new Linear(64, 3, { generator: g }));
  model.flatten();
  const optimizer = new Adam(model.parameters(), { lr: 0.02 });

  const losses = [];
  for (let step = 0; step < 200; step++) {
    const loss = scope(() => {
      const l = model.forward(x).crossEntropy(labels);
      l.backward();
      return l;
    });
    optimizer.step();
    optimizer.zeroGrad();
    if (step % 20 === 0 || step === 199) {
      losses.push(await loss.item());
      log(`step ${String(step).padStart(3)}  loss ${losses.at(-1).toFixed(4)}`);
    }
    loss.dispose();
  }

  // Predict the class of every pixel of a 60×60 grid over [-1.2, 1.2]², and of the training points.
  const n = 60;
  const grid = [];
  for (let row = 0; row < n; row++) for (let col = 0; col < n; col++) grid.push(-1.2 + (2.4 * (col + 0.5)) / n, 1.2 - (2.4 * (row + 0.5)) / n);
  const classesOf = async (data, count) => {
    const input = fromArray(data, [count, 2]);
    const out = noGrad(() => model.forward(input));
    const logits = await out.toArray();
    input.dispose();
    out.dispose();
    return Array.from({ length: count }, (_, i) => {
      const row = logits.subarray(3 * i, 3 * i + 3);
      return row.indexOf(Math.max(...row));
    });
  };
  const gridClasses = await classesOf(grid, n * n);
  const predicted = await classesOf(points, labels.length);
  const accuracy = predicted.filter((c, i) => c === labels[i]).length / labels.length;

  const canvas = $('plot');
  const paint = canvas.getContext('2d');
  const image = paint.createImageData(n, n);
  gridClasses.forEach((c, i) => image.data.set([...COLORS[c].map((v) => 255 - (255 - v) * 0.35), 255], 4 * i));
  const small = new OffscreenCanvas(n, n);
  small.getContext('2d').putImageData(image, 0, 0);
  paint.imageSmoothingEnabled = false;
  paint.drawImage(small, 0, 0, canvas.width, canvas.height);
  for (let i = 0; i < labels.length; i++) {
    paint.fillStyle = `rgb(${COLORS[labels[i]]})`;
    paint.beginPath();
    paint.arc(((points[2 * i] + 1.2) / 2.4) * canvas.width, ((1.2 - points[2 * i + 1]) / 2.4) * canvas.height, 3, 0, 2 * Math.PI);
    paint.fill();
  }

  $('summary').textContent = `Loss ${losses[0].toFixed(3)} → ${losses.at(-1).toFixed(3)}; training accuracy ${(100 * accuracy).toFixed(1)}%.`;
  x.dispose();
  model.dispose();
  optimizer.dispose();
  Object.assign(document.body.dataset, { firstLoss: losses[0], lastLoss: losses.at(-1), accuracy, status: 'done' });
}

main().catch((error) => {
  $('summary').className = 'error';
  $('summary').textContent = `Failed: ${error.message}`;
  Object.assign(document.body.dataset, { status: 'error', error: error.message });
  throw error;
});
