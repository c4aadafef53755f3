// Node only. Dawn's Node bindings deliver GPU promises (queue.onSubmittedWorkDone, mapAsync,
// popErrorScope) by ticking the device from a setImmediate loop for as long as one is pending:
// one CPU core spins at 100 %. With a hardware GPU that costs a core; on lavapipe, whose shader
// threads use every core, the spinning thread takes CPU time from the GPU work itself (measured on
// 2 cores: bmm 32×(128×64·64×128) 4.0 ms with the spin, 2.4 ms without).
//
// `installPolling` wraps the global setImmediate that those bindings call each tick. While the
// library is awaiting the GPU (runtime/waiting.ts) and the callback is a native one (Dawn's tick;
// JavaScript callbacks are never delayed), the main thread first sleeps with Atomics.wait:
//   nothing for the first `spinMs` of a wait (short waits keep their latency), then
//   min(maxSleepMs, sleepFraction · time waited so far) per tick,
// so a wait ends at most about `sleepFraction` of its length (or maxSleepMs) after the GPU finished.
// The cap trades the wake-ups of a long wait (each costs ~26 µs of main-thread CPU on lavapipe)
// against how late a long wait may end and how long a JavaScript callback may wait for the loop:
// same process, interleaved, 2 ms against 0.5 ms made a ResNet-18 step 3.5–4.9 % faster and 1024³
// 1.8–3.5 % (5 ms: no better).
//
// Where a wait has an expected length E (runtime/waiting.ts: the median of the last waits for the
// same batch), no sleep runs past the start of a tail, max(tailFraction·E, E − tailMs), and from there
// to E + tailMs each sleep is at most tailSleepMs: the wait ends soon after the GPU finishes instead
// of up to a tenth of its length later, and a wait that runs long (a slow episode of the machine, a
// wrong expectation) polls finely for at most 2·tailMs. Measured on the reference VM:
// - From the end of the last compute pass (timestamp queries, read against process.hrtime) to the
//   awaiting code resuming, medians of 41, two processes each: bmm 32×(128×64·64×128) 221 and 220 µs
//   without the tail, 128 and 113 µs with it; the imagenet layer2.0.downsample forward 156 and 148
//   against 146 and 138 µs. Dawn's own busy loop: 88 and 69 µs (but the GPU work then takes 1.7–1.9×
//   as long).
// - Wall time, same process, the two settings alternated, 61 rounds, two processes, without → with:
//   that bmm 2.094 → 2.022 and 2.148 → 2.055 ms, that convolution 1.416 → 1.354 and 1.420 → 1.355
//   ms, 128×(32×32·32×32) 0.686 → 0.673 and 0.686 → 0.680 ms, 8×256³ 5.747 → 5.566 and 5.761 → 5.765
//   ms, a 3×3 convolution 9.864 → 9.881 and 9.612 → 9.737 ms, 1024³ 39.08 → 38.73 and 39.50 → 38.77
//   ms; a ResNet-18 step (imagenet stem, 24 rounds) 474.4 → 475.7 ms.
//
// On Linux it also lowers the main thread's timer slack (/proc/self/timerslack_ns, which a
// process may set for its own main thread without privileges) while installed: with the default
// 50 µs, every Atomics.wait overslept by ~75 µs on the reference VM (a 10 µs sleep took 77 µs, a
// 100 µs one 175 µs), with 1 µs by ~25 µs (23 and 126 µs), so a short op's wait ends sooner. Same
// process, the two settings alternated (order swapped every round), 151 rounds, two processes,
// wall time 50 µs → 1 µs: bmm 32×(128×64·64×128) 1.985 → 1.969 and 2.014 → 1.997 ms, the imagenet
// layer2.0.downsample forward 1.326 → 1.279 and 1.375 → 1.318 ms.
import { readFileSync, writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { gpuWait } from './index';

export interface PollingOptions {
  /** Wait this long (ms) before the first sleep. */
  spinMs: number;
  /** Each sleep is this fraction of the time waited so far... */
  sleepFraction: number;
  /** ...and at most this long (ms). */
  maxSleepMs: number;
  /**
   * The main thread's timer slack in ns while polling is installed (Linux, main thread only;
   * elsewhere, or if the kernel refuses, nothing changes). null: leave it as it is.
   */
  timerSlackNs?: number | null;
  /**
   * With an expected wait length E: the tail, the stretch from E − tailMs (but not before
   * tailFraction·E) to E + tailMs, in which each sleep is at most tailSleepMs; no sleep runs into
   * the tail. tailMs 0: no tail.
   */
  tailMs?: number;
  tailFraction?: number;
  tailSleepMs?: number;
}

export const DEFAULT_POLLING: Required<PollingOptions> = {
  spinMs: 0.1,
  sleepFraction: 0.1,
  maxSleepMs: 2,
  timerSlackNs: 1000,
  tailMs: 0.25,
  tailFraction: 0.92,
  tailSleepMs: 0.02,
};

/** The options with every field left out (or undefined) taken from DEFAULT_POLLING. */
function withDefaults(options: PollingOptions): Required<PollingOptions> {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return { ...DEFAULT_POLLING, ...given };
}

/** How long a native tick sleeps (ms) after `waited` ms of a wait expected to last `expectMs` (0: unknown). */
export function pollSleepMs(options: Required<PollingOptions>, waited: number, expectMs: number): number {
  if (waited <= options.spinMs) return 0;
  const plain = Math.min(options.maxSleepMs, waited * options.sleepFraction);
  const { tailMs } = options;
  if (expectMs <= 0 || tailMs <= 0) return plain;
  const tailStart = Math.max(options.tailFraction * expectMs, expectMs - tailMs);
  if (waited < tailStart) return Math.min(plain, tailStart - waited);
  if (waited < expectMs + tailMs) return Math.min(plain, options.tailSleepMs);
  return plain;
}

const TIMER_SLACK_FILE = '/proc/self/timerslack_ns';

/** Sets the main thread's timer slack; returns what it was, or null where it cannot be set. */
export function setTimerSlack(ns: number): number | null {
  if (process.platform !== 'linux' || !isMainThread) return null;
  if (!Number.isInteger(ns) || ns < 1) throw new Error(`setTimerSlack: expected a whole number of ns ≥ 1, got ${ns}`);
  try {
    const previous = Number(readFileSync(TIMER_SLACK_FILE, 'utf8').trim());
    writeFileSync(TIMER_SLACK_FILE, String(ns));
    return previous;
  } catch {
    return null; // no /proc, or a kernel without the file: sleeps keep their slack
  }
}

const isNative = (fn: unknown) => typeof fn === 'function' && Function.prototype.toString.call(fn).endsWith('{ [native code] }');

/** Installs the sleeping poll; returns a function that restores the original setImmediate. */
export function installPolling(given: PollingOptions = DEFAULT_POLLING): () => void {
  const options = withDefaults(given);
  const original = globalThis.setImmediate;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const politeSetImmediate = function (this: unknown, callback: (...args: unknown[]) => void, ...args: unknown[]) {
    if (gpuWait.active > 0 && isNative(callback)) {
      const sleep = pollSleepMs(options, performance.now() - gpuWait.since, gpuWait.expectMs);
      if (sleep > 0) Atomics.wait(cell, 0, 0, sleep);
    }
    return original(callback, ...args);
  } as typeof setImmediate;
  Object.assign(politeSetImmediate, original); // keeps util.promisify's custom form
  globalThis.setImmediate = politeSetImmediate;
  const previousSlack = options.timerSlackNs === null ? null : setTimerSlack(options.timerSlackNs);
  return () => {
    if (globalThis.setImmediate === politeSetImmediate) globalThis.setImmediate = original;
    if (previousSlack !== null) setTimerSlack(previousSlack);
  };
}
