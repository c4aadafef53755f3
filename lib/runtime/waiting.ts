// Marks the stretches in which the library awaits the GPU (sync, readback, error checks), for
// hosts whose event loop has to poll the device meanwhile: Dawn's Node bindings tick the device
// from a setImmediate loop while a GPU promise is pending, which keeps one CPU core busy, and on a
// software GPU (lavapipe) that core is taken from the shader threads. lib/node-polling.ts reads
// this state to let that loop sleep while the library is only waiting. Nothing here touches the
// GPU; in a browser the state is kept and never read.
//
// A wait may carry a key naming the work it waits for (GpuContext uses a signature of the batch:
// its kernels and their uniforms). The lengths of the last waits with that key give the current
// wait an expected length, which lets the poll sleep through most of it and poll finely near its
// end (lib/node-polling.ts).

export const gpuWait = {
  /** How many waits are in progress. */
  active: 0,
  /** performance.now() when the current stretch of waiting began. */
  since: 0,
  /** How long the current wait is expected to last in ms (0: unknown): the median of the last waits with its key. */
  expectMs: 0,
};

/** Waits remembered per key, and how many of them are needed before they give an expectation. */
const HISTORY = 5;
const MIN_HISTORY = 3;
/** Keys remembered at most; beyond that the history starts again (a program repeats a few batches; one-off batches fill it). */
const MAX_KEYS = 1024;
const history = new Map<string, number[]>();

/** The expected length (ms) of a wait with this key: the median of the last ones, or 0 with too few. */
export function expectedWait(key: string): number {
  const waits = history.get(key);
  if (!waits || waits.length < MIN_HISTORY) return 0;
  const sorted = [...waits].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

function remember(key: string, ms: number): void {
  let waits = history.get(key);
  if (!waits) {
    if (history.size >= MAX_KEYS) history.clear();
    history.set(key, (waits = []));
  }
  waits.push(ms);
  if (waits.length > HISTORY) waits.shift();
}

/**
 * Awaits `promise` with the wait marked. With a `key`, a wait that is not nested in another takes
 * its expected length from the earlier waits with that key, and its own length is remembered.
 */
export async function awaitGpu<T>(promise: Promise<T>, key?: string): Promise<T> {
  const outermost = gpuWait.active++ === 0;
  const start = performance.now();
  if (outermost) {
    gpuWait.since = start;
    gpuWait.expectMs = key === undefined ? 0 : expectedWait(key);
  }
  try {
    const value = await promise;
    if (outermost && key !== undefined) remember(key, performance.now() - start);
    return value;
  } finally {
    if (--gpuWait.active === 0) gpuWait.expectMs = 0;
  }
}
