// TensorFlow.js's WebGPU backend as the peer to compare with, in the same process and on the same
// adapter. In Node it needs `navigator.gpu`, which we take from the `webgpu` package.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { create, globals } from 'webgpu';
import { awaitGpu } from '../lib/node';
import type { Prepared, Runner, TfModule } from './harness';

let tfPromise: Promise<TfModule> | null = null;

/**
 * tfjs-core's Node entry (a CommonJS bundle) has no gradients: the union package @tensorflow/tfjs
 * registers them from tfjs-core's ES modules, which Node cannot load as they are (extensionless
 * imports). esbuild bundles that one file; the gradient registry is a global, so the gradients land
 * in the registry the CommonJS copy uses.
 */
async function registerTfjsGradients(): Promise<void> {
  const repoRoot = fileURLToPath(new URL('..', import.meta.url)); // from bench/ and from dist/
  const bundle = await build({
    stdin: { contents: "import '@tensorflow/tfjs-core/dist/register_all_gradients.js';", resolveDir: repoRoot },
    bundle: true,
    format: 'esm',
    platform: 'node',
    write: false,
    logLevel: 'silent',
  });
  const code = bundle.outputFiles[0]!.text;
  await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}
let gpuHandle: GPU | null = null;

export function loadTfjs(): Promise<TfModule> {
  tfPromise ??= (async () => {
    Object.assign(globalThis, globals);
    gpuHandle ??= create([]);
    Object.defineProperty(globalThis, 'navigator', { value: { gpu: gpuHandle }, configurable: true, writable: true });
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-webgpu');
    await registerTfjsGradients();
    if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend did not initialise');
    await tf.ready();
    return tf;
  })();
  return tfPromise;
}

/**
 * Waits for the tfjs backend's GPU work without reading data back. The wait is marked as ours
 * (lib/runtime/waiting.ts) so that Dawn's ticks sleep during it exactly as during our own waits
 * (lib/node-polling.ts), and a wait for a case's run carries a key of that case, as our waits carry
 * their batch's signature, so that it too gets an expected length: both libraries are timed with
 * the same waiting.
 */
async function tfSync(tf: TfModule, key?: string): Promise<void> {
  const backend = tf.backend();
  backend.endComputePassEncoder();
  if (backend.commandEncoder) backend.submitQueue(); // nothing recorded since the last submit: no encoder
  await awaitGpu(backend.device.queue.onSubmittedWorkDone(), key);
}

function disposeResult(tf: TfModule, result: unknown): void {
  if (result) tf.dispose(result as never);
}

/** Numbers the runners, each case's key for its waits. */
let runnerCount = 0;

/** TensorFlow.js: wall clock from the first op to the end of its GPU work; the tensors made are disposed after. */
export function tfjsRunner(tf: TfModule, p: Prepared): Runner {
  const key = `tfjs case ${runnerCount++}`;
  return {
    async warm() {
      const r = p.run();
      await tfSync(tf, key);
      disposeResult(tf, r);
    },
    async once() {
      await tfSync(tf);
      const t0 = performance.now();
      const r = p.run();
      await tfSync(tf, key);
      const ms = performance.now() - t0;
      disposeResult(tf, r);
      return { ms };
    },
  };
}

export function tfjsAdapter(tf: TfModule): string {
  const info = tf.backend().adapterInfo;
  return info?.description || info?.architecture || 'tfjs-webgpu';
}

export function shutdownTfjs(tf: TfModule | null): void {
  if (tf) tf.backend().device?.destroy?.();
  gpuHandle = null;
}
