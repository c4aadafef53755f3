// npm run profile -- [resnet18-step|moco-step] [--stem cifar|imagenet] [--batch N] [--size N]
// Times every kernel of one training step on its own (timestamp queries, one pass per dispatch) and
// prints GPU ms per kernel, slowest first. The step runs twice first to warm up.
import { parseArgs } from 'node:util';
import { fromArray, initNode, randn, resnet18, scope, SGD, shutdown, Generator } from '../lib/node';

const { values } = parseArgs({
  options: {
    stem: { type: 'string', default: 'cifar' },
    batch: { type: 'string', default: '32' },
    size: { type: 'string', default: '32' },
  },
});
const stem = values.stem as 'cifar' | 'imagenet';
const batch = Number(values.batch);
const size = Number(values.size);
const ctx = await initNode({ dawnFlags: ['disable-dawn-features=timestamp_quantization'] });
const g = new Generator(0);
const model = resnet18({ numClasses: 10, stem, generator: g });
const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
const x = randn([batch, 3, size, size], { generator: g });
const labels = fromArray(Array.from({ length: batch }, (_, i) => i % 10));
const step = () =>
  scope(() => {
    opt.zeroGrad();
    model.forward(x).crossEntropy(labels).backward();
    opt.step();
  });
for (let i = 0; i < 2; i++) {
  step();
  await ctx.sync();
}
const t0 = performance.now();
step();
await ctx.sync();
const wall = performance.now() - t0;
if (!ctx.startProfile()) throw new Error('this adapter has no timestamp queries');
step();
const rows = await ctx.stopProfile();
const total = rows.reduce((s, r) => s + r.ms, 0);
console.log(`resnet18 training step, ${stem} stem, batch ${batch} at ${size}px on ${ctx.adapter.description}`);
console.log(`wall clock (normal run): ${wall.toFixed(1)} ms; sum of profiled kernels: ${total.toFixed(1)} ms`);
console.log('kernel'.padEnd(34) + 'dispatches'.padStart(11) + 'ms'.padStart(10) + 'share'.padStart(8));
for (const r of rows) {
  console.log(r.kernel.padEnd(34) + String(r.dispatches).padStart(11) + r.ms.toFixed(2).padStart(10) + `${((100 * r.ms) / total).toFixed(1)}%`.padStart(8));
}
[x, labels].forEach((t) => t.dispose());
opt.dispose();
model.dispose();
shutdown();
