// The Node entry's polling (lib/node-polling.ts): while the library awaits the GPU, Dawn's native
// device ticks sleep between polls instead of spinning a core; JavaScript callbacks and ticks
// outside a wait are never delayed. Sleeps are checked from below only (Atomics.wait never
// returns early), undelayed calls against a bound 10× the sleep under test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { awaitGpu, gpuWait, randn, bmm, scope } from '../lib/index';
import { expectedWait } from '../lib/runtime/waiting';
import { readFileSync } from 'node:fs';
import { DEFAULT_POLLING, installPolling, pollSleepMs, setTimerSlack } from '../lib/node-polling';
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

test('the sleep schedule: none while spinning, a tenth of the wait capped, and fine sleeps in the tail around an expected length', () => {
  const o = { ...DEFAULT_POLLING, spinMs: 0.1, sleepFraction: 0.1, maxSleepMs: 2, tailMs: 0.25, tailFraction: 0.92, tailSleepMs: 0.02 };
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-9;
  assert.is(pollSleepMs(o, 0.05, 0), 0, 'no sleep in the first spinMs');
  assert.ok(close(pollSleepMs(o, 1, 0), 0.1), 'a tenth of the time waited');
  assert.ok(close(pollSleepMs(o, 50, 0), 2), 'at most maxSleepMs');
  // Expected 2 ms: the tail runs from max(0.92·2, 2 − 0.25) = 1.84 to 2.25 ms.
  assert.ok(close(pollSleepMs(o, 1, 2), 0.1), 'far from the tail: the plain sleep');
  assert.ok(close(pollSleepMs(o, 1.8, 2), 0.04), 'a sleep never runs into the tail');
  assert.ok(close(pollSleepMs(o, 1.9, 2), 0.02), 'in the tail: at most tailSleepMs');
  assert.ok(close(pollSleepMs(o, 2.3, 2), 0.23), 'after the tail: the plain schedule again');
  // Expected 100 ms: the tail is 99.75–100.25 ms, so a wait that runs long is not polled finely for long.
  assert.ok(close(pollSleepMs(o, 99, 100), 0.75));
  assert.ok(close(pollSleepMs(o, 100.1, 100), 0.02));
  assert.ok(close(pollSleepMs(o, 101, 100), 2));
  assert.ok(close(pollSleepMs({ ...o, tailMs: 0 }, 1.9, 2), 0.19), 'tailMs 0: no tail');
});

test('keyed waits: the median of the last waits with a key becomes the expected length of the next one', async () => {
  // A fake clock, so that the wait lengths are exact (timers fire early or late by a millisecond or more).
  let clock = 1000;
  const realNow = performance.now;
  performance.now = () => clock;
  const waitOf = async (ms: number, key: string) => {
    let resolve!: () => void;
    const pending = awaitGpu(new Promise<void>((r) => (resolve = r)), key);
    clock += ms;
    resolve();
    await pending;
  };
  try {
    const key = `test key ${Math.random()}`;
    await waitOf(3, key);
    await waitOf(9, key);
    assert.is(expectedWait(key), 0, 'two waits are too few for an expectation');
    await waitOf(6, key);
    assert.is(gpuWait.expectMs, 0, 'no expectation outside a wait');
    assert.is(expectedWait(key), 6, 'the median of 3, 9 and 6 ms');
    let resolve!: () => void;
    const pending = awaitGpu(new Promise<void>((r) => (resolve = r)), key);
    assert.is(gpuWait.expectMs, 6, 'the wait carries its expectation');
    const nested = awaitGpu(Promise.resolve(), 'another key');
    assert.is(gpuWait.expectMs, 6, 'a nested wait leaves the outer one\'s expectation');
    clock += 20;
    resolve();
    await Promise.all([pending, nested]);
    assert.is(gpuWait.expectMs, 0);
    assert.is(expectedWait('another key'), 0, 'a nested wait is not remembered');
    assert.is(expectedWait(key), 9, 'the median of 3, 9, 6 and 20 ms');
    for (const ms of [1, 1, 1]) await waitOf(ms, key);
    assert.is(expectedWait(key), 1, 'only the last 5 waits count: 6, 20, 1, 1, 1');
    assert.is(expectedWait('a key never used'), 0);
  } finally {
    performance.now = realNow;
  }
});

test('the context keys a wait by the batch it waits for, and a wait with nothing newly submitted by none', async () => {
  const a = randn([4, 32, 32]);
  const b = randn([8, 32, 32]);
  const runA = () => scope(() => void bmm(a, a));
  const expectation = async (record: () => void) => {
    record();
    const pending = ctx.sync();
    const ms = gpuWait.expectMs;
    await pending;
    return ms;
  };
  for (let i = 0; i < 3; i++) await expectation(runA);
  assert.ok((await expectation(runA)) > 0, 'the same batch again: an expectation');
  assert.is(await expectation(() => {}), 0, 'nothing submitted since: no key');
  assert.is(await expectation(() => scope(() => void bmm(b, b))), 0, 'another shape: no history yet');
  a.dispose();
  b.dispose();
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
