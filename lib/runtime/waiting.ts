// Marks the stretches in which the library awaits the GPU (sync, readback, error checks), for
// hosts whose event loop has to poll the device meanwhile: Dawn's Node bindings tick the device
// from a setImmediate loop while a GPU promise is pending, which keeps one CPU core busy, and on a
// software GPU (lavapipe) that core is taken from the shader threads. lib/node-polling.ts reads
// this state to let that loop sleep while the library is only waiting. Nothing here touches the
// GPU; in a browser the state is kept and never read.

export const gpuWait = {
  /** How many waits are in progress. */
  active: 0,
  /** performance.now() when the current stretch of waiting began. */
  since: 0,
};

/** Awaits `promise` with the wait marked. */
export async function awaitGpu<T>(promise: Promise<T>): Promise<T> {
  if (gpuWait.active++ === 0) gpuWait.since = performance.now();
  try {
    return await promise;
  } finally {
    gpuWait.active--;
  }
}
