// TensorFlow.js's WebGPU backend as the peer to compare with, in the same process and on the same
// adapter. In Node it needs `navigator.gpu`, which we take from the `webgpu` package.
import { create, globals } from 'webgpu';
import { median, type Prepared, type TfModule, type TimingOptions } from './harness';

let tfPromise: Promise<TfModule> | null = null;
let gpuHandle: GPU | null = null;

export function loadTfjs(): Promise<TfModule> {
  tfPromise ??= (async () => {
    Object.assign(globalThis, globals);
    gpuHandle ??= create([]);
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: gpuHandle }, configurable: true, writable: true });
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend did not initialise');
    await tf.ready();
    return tf;
  })();
  return tfPromise;
}

/** Waits for the tfjs backend's GPU work without reading data back. */
async function tfSync(tf: TfModule): Promise<void> {
  const backend = tf.backend();
  backend.endComputePassEncoder();
  if (backend.commandEncoder) backend.submitQueue(); // nothing recorded since the last submit: no encoder
  await backend.device.queue.onSubmittedWorkDone();
}

function disposeResult(tf: TfModule, result: unknown): void {
  if (result) tf.dispose(result as never);
}

export async function timeTfjs(tf: TfModule, p: Prepared, o: TimingOptions): Promise<{ ms: number }> {
  for (let i = 0; i < o.warmup; i++) {
    const r = p.run();
    await tfSync(tf);
    disposeResult(tf, r);
  }
  const wall: number[] = [];
  for (let i = 0; i < o.repeats; i++) {
    await tfSync(tf);
    const t0 = performance.now();
    const r = p.run();
    await tfSync(tf);
    wall.push(performance.now() - t0);
    disposeResult(tf, r);
  }
  return { ms: median(wall) };
}

export function tfjsAdapter(tf: TfModule): string {
  const info = tf.backend().adapterInfo;
  return info?.description || info?.architecture || 'tfjs-webgpu';
}

export function shutdownTfjs(tf: TfModule | null): void {
  if (tf) tf.backend().device?.destroy?.();
  gpuHandle = null;
}
