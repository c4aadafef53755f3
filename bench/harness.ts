// Benchmark harness: each case prepares its inputs once, then its `run` records the GPU work of one
// repetition. We warm up (the first run compiles pipelines), then time repeats with the wall clock
// from the first command to `onSubmittedWorkDone` and report the median; where the adapter has
// timestamp queries we also report the median GPU time of the compute passes, taken from extra
// runs (ourRunner). In a comparison the peers' repeats alternate (timeRunners).
import type { GpuContext } from '../lib/index';
import { scope } from '../lib/index';

export interface Prepared {
  /** Records one repetition of the work (ours: GPU commands; tfjs: returns the tensors it made). */
  run(): unknown;
  dispose(): void;
}

export interface BenchCase {
  bench: string;
  shape: string;
  /** Floating-point operations of one run (for GFLOP/s). */
  flops?: number;
  /** Bytes read + written by one run (for GB/s). */
  bytes?: number;
  /** Images processed by one run (for images/s). */
  images?: number;
  ours(ctx: GpuContext): Prepared;
  tfjs?(tf: TfModule): Prepared;
  /** The same work for bench/torch_cpu.py (PyTorch on the CPU), e.g. 'resnet18-step:cifar:32:32'. */
  torch?: string;
}

// The subset of @tensorflow/tfjs-core the suites use; typed loosely so tfjs stays optional.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TfModule = any;

export interface BenchRow {
  bench: string;
  shape: string;
  impl: string;
  ms: number;
  gpuMs?: number;
  gflops?: number;
  gbps?: number;
  imagesPerSec?: number;
  adapter: string;
}

export interface TimingOptions {
  warmup: number;
  /** Timed rounds, at least. */
  repeats: number;
  /**
   * More rounds, up to `maxRepeats`, until the timed rounds took this long (ms): short cases get
   * more samples for their medians at little cost (0: exactly `repeats`).
   */
  minTimeMs?: number;
  maxRepeats?: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `fn` with subgroups off (the portable workgroup-tiled kernels), then restores the setting. */
export function withoutSubgroups<T>(ctx: GpuContext, fn: () => T): T {
  const previous = ctx.useSubgroups;
  ctx.useSubgroups = false;
  try {
    return fn();
  } finally {
    ctx.useSubgroups = previous;
  }
}

export interface Timed {
  ms: number;
  gpuMs?: number;
}

/** One implementation's way to run a prepared case: untimed, or timed once. */
export interface Runner {
  warm(): Promise<void>;
  once(): Promise<Timed>;
}

/**
 * Our library: wall clock from the first command to the end of the GPU work, then, where the
 * adapter has timestamp queries, the GPU time of a second run. The wall-clock run carries no
 * timestamp queries: the peers run without them, and on lavapipe they cost a small op up to 15 %
 * of its wall time (bmm 128×(32×32·32×32): 0.83 against 0.71 ms, interleaved in one process).
 */
export function ourRunner(ctx: GpuContext, p: Prepared): Runner {
  const run = () => scope(() => void p.run());
  return {
    async warm() {
      run();
      await ctx.sync();
    },
    async once() {
      await ctx.sync();
      const t0 = performance.now();
      run();
      await ctx.sync();
      const ms = performance.now() - t0;
      if (!ctx.startGpuTimer()) return { ms };
      run();
      const gpuMs = await ctx.stopGpuTimer();
      return gpuMs === null ? { ms } : { ms, gpuMs };
    },
  };
}

/**
 * Warms every runner up, then times them in alternation, one run each per round, and returns each
 * one's medians: the peers of a comparison see the same machine state (on a shared 2-core machine
 * the times of one case drift by tens of percent within a minute, which skewed the ratios when each
 * peer ran all its repeats in a row). Rounds continue past `repeats` while they have taken less
 * than `minTimeMs` in all (at most `maxRepeats`).
 */
export async function timeRunners(runners: Runner[], o: TimingOptions): Promise<Timed[]> {
  for (const r of runners) for (let i = 0; i < o.warmup; i++) await r.warm();
  const times: Timed[][] = runners.map(() => []);
  const started = performance.now();
  const more = (round: number) =>
    round < o.repeats || (round < (o.maxRepeats ?? o.repeats) && performance.now() - started < (o.minTimeMs ?? 0));
  for (let i = 0; more(i); i++) {
    for (const [j, r] of runners.entries()) times[j]!.push(await r.once());
  }
  return times.map((ts) => {
    const gpu = ts.flatMap((t) => (t.gpuMs === undefined ? [] : [t.gpuMs]));
    return { ms: median(ts.map((t) => t.ms)), ...(gpu.length ? { gpuMs: median(gpu) } : {}) };
  });
}

export function row(c: BenchCase, impl: string, adapter: string, t: { ms: number; gpuMs?: number }): BenchRow {
  const ms = t.ms; // wall clock: conservative, and what the tfjs comparison uses too
  const r: BenchRow = { bench: c.bench, shape: c.shape, impl, ms: round(t.ms), adapter };
  if (t.gpuMs !== undefined) r.gpuMs = round(t.gpuMs);
  if (c.flops) r.gflops = round(c.flops / ms / 1e6);
  if (c.bytes) r.gbps = round(c.bytes / ms / 1e6);
  if (c.images) r.imagesPerSec = round((c.images * 1000) / t.ms);
  return r;
}

function round(x: number): number {
  return Number(x.toPrecision(4));
}

export function adapterName(ctx: GpuContext): string {
  return ctx.adapter.description || `${ctx.adapter.vendor} ${ctx.adapter.device}`.trim() || 'unknown adapter';
}

export function printTable(rows: BenchRow[]): void {
  const cols: [string, (r: BenchRow) => string][] = [
    ['bench', (r) => r.bench],
    ['shape', (r) => r.shape],
    ['impl', (r) => r.impl],
    ['ms', (r) => r.ms.toString()],
    ['gpu ms', (r) => r.gpuMs?.toString() ?? ''],
    ['GFLOP/s', (r) => r.gflops?.toString() ?? ''],
    ['GB/s', (r) => r.gbps?.toString() ?? ''],
    ['images/s', (r) => r.imagesPerSec?.toString() ?? ''],
  ];
  const used = cols.filter(([, f]) => rows.some((r) => f(r) !== ''));
  const widths = used.map(([h, f]) => Math.max(h.length, ...rows.map((r) => f(r).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  console.log(line(used.map(([h]) => h)));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(used.map(([, f]) => f(r))));
}
