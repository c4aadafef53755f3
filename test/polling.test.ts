// The Node entry's polling (lib/node-polling.ts): while the library awaits the GPU, Dawn's native
// device ticks sleep between polls instead of spinning a core; JavaScript callbacks and ticks
// outside a wait are never delayed. Sleeps are checked from below only (Atomics.wait never
// returns early), undelayed calls against a bound 10× the sleep under test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { awaitGpu, gpuWait, randn, bmm } from '../lib/index';
import { readFileSync } from 'node:fs';
import { DEFAULT_POLLING, installPolling, setTimerSlack } from '../lib/node-polling';
import { ctx } from './helpers/gpu';

const SLEEP_MS = 20;

/** Milliseconds that one setImmediate call itself takes (the sleep happens before queueing). */
function callTime(callback: () => void): number {
  const t0 = performance.now();
  const handle = setImmediate(callback);
  const ms = performance.now() - t0;
  clearImmediate(handle);
  return ms;
}

test('a native tick sleeps while the library waits; JavaScript callbacks and ticks outside waits do not', () => {
  const restore = installPolling({ spinMs: 0, sleepFraction: 1, maxSleepMs: SLEEP_MS });
  const saved = { ...gpuWait };
  const native = Math.random; // a native function, like Dawn's tick callback
  try {
    gpuWait.active = 1;
    gpuWait.since = performance.now() - 10 * SLEEP_MS;
    const slept = callTime(native);
    assert.ok(slept >= SLEEP_MS - 1, `native tick during a wait took ${slept.toFixed(2)} ms, expected a ${SLEEP_MS} ms sleep`);
    const js = callTime(() => {});
    assert.ok(js < SLEEP_MS / 2, `a JavaScript callback was delayed ${js.toFixed(2)} ms`);
    gpuWait.active = 0;
    const idle = callTime(native);
    assert.ok(idle < SLEEP_MS / 2, `a native tick outside a wait was delayed ${idle.toFixed(2)} ms`);
  } finally {
    Object.assign(gpuWait, saved);
    restore();
  }
});

test('restoring puts the previous setImmediate back', () => {
  const before = globalThis.setImmediate;
  const restore = installPolling();
  assert.is.not(globalThis.setImmediate, before);
  restore();
  assert.is(globalThis.setImmediate, before);
});

test('on Linux, polling lowers the main thread\'s timer slack while installed and restores it after', () => {
  assert.is(process.platform, 'linux', 'this suite runs on Linux (lavapipe)');
  const slack = () => Number(readFileSync('/proc/self/timerslack_ns', 'utf8').trim());
  const original = setTimerSlack(40_000);
  assert.ok(original !== null, '/proc/self/timerslack_ns is writable by the process itself');
  try {
    assert.is(slack(), 40_000);
    const restore = installPolling();
    assert.is(slack(), DEFAULT_POLLING.timerSlackNs);
    restore();
    assert.is(slack(), 40_000);
    const untouched = installPolling({ ...DEFAULT_POLLING, timerSlackNs: null });
    assert.is(slack(), 40_000, 'timerSlackNs: null leaves the slack alone');
    untouched();
    assert.throws(() => setTimerSlack(0.5), /whole number of ns/);
  } finally {
    setTimerSlack(original!);
  }
});

test('readback marks the wait while it is pending and ends it after; a refused GPU promise leaves no wait behind', async () => {
  assert.is(gpuWait.active, 0);
  const a = randn([4, 64, 64]);
  const c = bmm(a, a);
  const pending = c.toArray();
  const during = gpuWait.active;
  await pending;
  await ctx.sync();
  assert.is(gpuWait.active, 0);
  assert.ok(during >= 1, 'toArray marks a wait before it resolves');
  let failed = false;
  try {
    await awaitGpu(Promise.reject(new Error('refused')));
  } catch {
    failed = true;
  }
  assert.ok(failed, 'the refusal reaches the caller');
  c.dispose();
  assert.is(gpuWait.active, 0);
  a.dispose();
});

test.run();
