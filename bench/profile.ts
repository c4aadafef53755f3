// npm run profile -- [resnet18-step|moco-step] [--stem cifar|imagenet] [--batch N] [--size N] [--repeats N]
// Times every kernel of one training step on its own (timestamp queries, one pass per dispatch) and
// prints GPU ms per kernel, slowest first. The step runs twice first to warm up; the wall clock of
// `--repeats` normal (unprofiled) steps is printed too, with the process CPU time they took (all
// of lavapipe's threads run in this process, so CPU time ≈ the work done, even when other
// processes share the cores and stretch the wall clock).
// resnet18-step: forward, cross-entropy, backward and SGD (momentum 0.9, wd 1e-4) of ResNet-18
// (--stem, --batch, --size). moco-step: the MoCo-v2 step of bench/suites/moco-step.ts (batch 32,
// 32×32, cifar stem, K 4096).
import { parseArgs } from 'node:util';
import { initNode, shutdown } from '../lib/node';
import { median } from './harness';
import { cases as mocoCases } from './suites/moco-step';
import { resnetStep } from './suites/resnet18-step';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    stem: { type: 'string', default: 'cifar' },
    batch: { type: 'string', default: '32' },
    size: { type: 'string', default: '32' },
    repeats: { type: 'string', default: '1' },
  },
});
const which = positionals[0] ?? 'resnet18-step';
if (which !== 'resnet18-step' && which !== 'moco-step') {
  console.error('usage: npm run profile -- [resnet18-step|moco-step] [--stem cifar|imagenet] [--batch N] [--size N] [--repeats N]');
  process.exit(2);
}
const stem = values.stem as 'cifar' | 'imagenet';
const batch = Number(values.batch);
const size = Number(values.size);
const repeats = Math.max(1, Number(values.repeats));
const ctx = await initNode({ dawnFlags: ['disable-dawn-features=timestamp_quantization'] });

function resnet18Step() {
  return { title: `resnet18 training step, ${stem} stem, batch ${batch} at ${size}px`, ...resnetStep(ctx, stem, batch, size) };
}

function mocoStep() {
  const c = mocoCases({ quick: false })[0]!;
  const prepared = c.ours(ctx);
  // The bench step opens its own scope.
  return { title: `moco-v2 step, ${c.shape}`, run: () => void prepared.run(), dispose: () => prepared.dispose() };
}

const step = which === 'moco-step' ? mocoStep() : resnet18Step();
for (let i = 0; i < 2; i++) {
  step.run();
  await ctx.sync();
}
const walls: number[] = [];
const cpus: number[] = [];
for (let i = 0; i < repeats; i++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  step.run();
  await ctx.sync();
  walls.push(performance.now() - t0);
  const cpu = process.cpuUsage(c0);
  cpus.push((cpu.user + cpu.system) / 1000);
}
if (!ctx.startProfile()) throw new Error('this adapter has no timestamp queries');
step.run();
const rows = await ctx.stopProfile();
const total = rows.reduce((s, r) => s + r.ms, 0);
console.log(`${step.title} on ${ctx.adapter.description}`);
console.log(
  `wall clock (normal run, median of ${repeats}): ${median(walls).toFixed(1)} ms, process CPU ${median(cpus).toFixed(1)} ms; ` +
    `sum of profiled kernels: ${total.toFixed(1)} ms`,
);
console.log('kernel'.padEnd(34) + 'dispatches'.padStart(11) + 'ms'.padStart(10) + 'share'.padStart(8));
for (const r of rows) {
  console.log(r.kernel.padEnd(34) + String(r.dispatches).padStart(11) + r.ms.toFixed(2).padStart(10) + `${((100 * r.ms) / total).toFixed(1)}%`.padStart(8));
}
step.dispose();
shutdown();
