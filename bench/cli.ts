// npm run bench -- <suite> [--json] [--repeats N] [--warmup N] [--min-time MS] [--quick] [--no-winograd]
// npm run bench -- compare <suite> [--json]       (adds TensorFlow.js's WebGPU backend, same run)
// Suites live in bench/suites/; each exports `cases(options)` returning BenchCase[].
import { parseArgs } from 'node:util';
import { initNode, shutdown, winogradSettings } from '../lib/node';
import { adapterName, ourRunner, printTable, row, timeRunners, type BenchCase, type BenchRow, type TfModule } from './harness';
import { loadTfjs, shutdownTfjs, tfjsAdapter, tfjsRunner } from './tfjs';
import { timeTorch, torchAvailable, type TorchTiming } from './torch';

type Suite = { cases(options: { quick: boolean }): BenchCase[] | Promise<BenchCase[]> };

const SUITES: Record<string, () => Promise<Suite>> = {
  matmul: () => import('./suites/matmul'),
  bmm: () => import('./suites/bmm'),
  softmax: () => import('./suites/softmax'),
  conv2d: () => import('./suites/conv2d'),
  'resnet18-step': () => import('./suites/resnet18-step'),
  bnpool: () => import('./suites/bnpool'),
  'moco-step': () => import('./suites/moco-step'),
  'moco-kernels': () => import('./suites/moco-kernels'),
  augment: () => import('./suites/augment'),
};

/**
 * The most timed rounds of one case when --min-time asks for more than --repeats. The default
 * --min-time of 3 s spreads a short case's rounds over several of the VM's slow episodes (each
 * 0.05–0.25 s, bench/RESULTS.md, session 11) instead of one or two: five `compare bmm` runs gave
 * the bmm target 4.72–5.37× with 1 s (at most 31 rounds) and 4.73–5.02× with 3 s.
 */
const MAX_REPEATS = 301;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    json: { type: 'boolean', default: false },
    repeats: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '5' },
    'min-time': { type: 'string', default: '3000' },
    quick: { type: 'boolean', default: false },
    'no-winograd': { type: 'boolean', default: false },
    filter: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

const USAGE = `usage: npm run bench -- [compare] <${Object.keys(SUITES).join('|')}> [...] [options]
  compare        also time TensorFlow.js's WebGPU backend (and PyTorch CPU where installed), same run
  --json         one JSON object a line instead of a table
  --repeats N    timed repeats at least; the median is reported (default 7)
  --warmup N     untimed runs first (default 5)
  --min-time MS  more repeats (up to ${MAX_REPEATS}) while the timed ones took less than MS in all
                 (default 3000; 0 for exactly --repeats)
  --quick        the smaller shapes of each suite
  --no-winograd  3×3 stride-1 convolutions on the implicit GEMM too (to compare the two)
  --filter TEXT  only the cases whose "bench shape" label contains TEXT (e.g. "fwd imagenet layer2.0")`;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const compare = positionals[0] === 'compare';
const names = compare ? positionals.slice(1) : positionals;
if (names.length === 0 || names.some((n) => !(n in SUITES))) {
  console.error(USAGE);
  process.exit(2);
}
function count(flag: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    console.error(`bench: --${flag} must be an integer ≥ ${min}, got '${text}'`);
    process.exit(2);
  }
  return n;
}
const timing = {
  warmup: count('warmup', values.warmup, 0),
  repeats: count('repeats', values.repeats, 1),
  minTimeMs: count('min-time', values['min-time'], 0),
  maxRepeats: MAX_REPEATS,
};
if (values['no-winograd']) winogradSettings.enabled = false;

const ctx = await initNode();
const adapter = adapterName(ctx);
let tf: TfModule | null = null;
const rows: BenchRow[] = [];
const emit = (r: BenchRow) => {
  rows.push(r);
  if (values.json) console.log(JSON.stringify(r));
};

try {
  if (compare) tf = await loadTfjs();
  const withTorch = compare && torchAvailable();
  if (compare && !withTorch) console.error('PyTorch (python3-torch for /usr/bin/python3) is not installed: no CPU comparison');
  for (const name of names) {
    const suite = await SUITES[name]!();
    const all = await suite.cases({ quick: values.quick });
    const cases = values.filter === undefined ? all : all.filter((c) => `${c.bench} ${c.shape}`.includes(values.filter!));
    const torchSpecs = cases.flatMap((c) => (c.torch ? [c.torch] : []));
    const torchTimes = withTorch && torchSpecs.length ? timeTorch(torchSpecs, timing) : new Map<string, TorchTiming>();
    for (const c of cases) {
      // with a peer, both are prepared and timed in alternation (harness.ts, timeRunners)
      const prepared = c.ours(ctx);
      const theirs = tf && c.tfjs ? c.tfjs(tf) : null;
      const [oursTime, theirTime] = await timeRunners([ourRunner(ctx, prepared), ...(theirs ? [tfjsRunner(tf, theirs)] : [])], timing);
      prepared.dispose();
      theirs?.dispose();
      const ours = row(c, 'ours', adapter, oursTime!);
      emit(ours);
      if (theirTime) {
        const t = row(c, 'tfjs-webgpu', tfjsAdapter(tf), theirTime);
        emit(t);
        const ratio = t.ms / ours.ms;
        if (values.json) console.log(JSON.stringify({ ...ours, impl: 'ours/tfjs-webgpu', peerMs: t.ms, ratio: Number(ratio.toFixed(2)) }));
        else process.stderr.write(`${c.bench} ${c.shape}: ours ${ours.ms} ms, tfjs ${t.ms} ms, ${ratio.toFixed(2)}x\n`);
      }
      const torch = c.torch ? torchTimes.get(c.torch) : undefined;
      if (torch !== undefined) {
        emit(row(c, 'pytorch-cpu', `CPU (${torch.threads} threads)`, { ms: torch.ms }));
        const ratio = torch.ms / ours.ms;
        if (values.json) console.log(JSON.stringify({ ...ours, impl: 'ours/pytorch-cpu', peerMs: torch.ms, torchRatio: Number(ratio.toFixed(2)) }));
        else process.stderr.write(`${c.bench} ${c.shape}: ours ${ours.ms} ms, pytorch-cpu ${Number(torch.ms.toPrecision(4))} ms, ${ratio.toFixed(2)}x\n`);
      }
    }
  }
  if (!values.json) {
    console.log(`\nadapter: ${adapter}`);
    printTable(rows);
  }
} finally {
  shutdownTfjs(tf);
  shutdown();
}
process.exit(0);
