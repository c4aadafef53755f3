// Node entry point: the only module that imports the `webgpu` package (Dawn). It creates the
// default GPU context and lets the process exit cleanly afterwards. It re-exports the whole
// library, and imports it only through './index' (the bundle keeps that import, so Node programs
// share one copy of the library's state whichever entry they import).
import { availableParallelism } from 'node:os';
import { create, globals } from 'webgpu';
import { getContext, hasContext, requestContext, setContext, type GpuContext, type RequestOptions } from './index';
import { DEFAULT_POLLING, installPolling, type PollingOptions } from './node-polling';

export * from './index';
export { writeFileAtomic } from './node-fs';
export { DEFAULT_POLLING, type PollingOptions } from './node-polling';

let gpuHandle: GPU | null = null;
let restorePolling: (() => void) | null = null;

export interface NodeOptions extends RequestOptions {
  /** Dawn toggles, e.g. 'disable-dawn-features=timestamp_quantization'. */
  dawnFlags?: string[];
  /**
   * How the main thread waits for the GPU (lib/node-polling.ts): sleeping between Dawn's device
   * ticks (the default, DEFAULT_POLLING) or 'spin', Dawn's own busy loop.
   */
  polling?: PollingOptions | 'spin';
}

/** Creates the default context on the first adapter Dawn finds (lavapipe on a machine without a GPU). */
export async function initNode(options: NodeOptions = {}): Promise<GpuContext> {
  if (hasContext()) return getContext();
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  Object.assign(globalThis, globals);
  const polling = options.polling ?? (process.env.WGTENSOR_POLLING === 'spin' ? 'spin' : DEFAULT_POLLING);
  if (polling !== 'spin') restorePolling ??= installPolling(polling);
  gpuHandle = create(options.dawnFlags ?? []);
  // lavapipe runs its shaders on LP_NUM_THREADS threads, by default one per core.
  const cpuThreads = options.cpuThreads ?? (Math.floor(Number(process.env.LP_NUM_THREADS)) || availableParallelism());
  const ctx = await requestContext(gpuHandle, { ...options, cpuThreads });
  setContext(ctx);
  return ctx;
}

/** Destroys the default context and drops Dawn, so the process can exit. */
export function shutdown(): void {
  if (hasContext()) getContext().destroy();
  setContext(null);
  gpuHandle = null;
  restorePolling?.();
  restorePolling = null;
}
