// Node entry point: the only module that imports the `webgpu` package (Dawn). It creates the
// default GPU context and lets the process exit cleanly afterwards. It re-exports the whole
// library, and imports it only through './index' (the bundle keeps that import, so Node programs
// share one copy of the library's state whichever entry they import).
import { create, globals } from 'webgpu';
import { getContext, hasContext, requestContext, setContext, type GpuContext, type RequestOptions } from './index';

export * from './index';
export { writeFileAtomic } from './node-fs';

let gpuHandle: GPU | null = null;

/** Creates the default context on the first adapter Dawn finds (lavapipe on a machine without a GPU). */
export async function initNode(options: RequestOptions & { dawnFlags?: string[] } = {}): Promise<GpuContext> {
  if (hasContext()) return getContext();
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  Object.assign(globalThis, globals);
  gpuHandle = create(options.dawnFlags ?? []);
  const ctx = await requestContext(gpuHandle, options);
  setContext(ctx);
  return ctx;
}

/** Destroys the default context and drops Dawn, so the process can exit. */
export function shutdown(): void {
  if (hasContext()) getContext().destroy();
  setContext(null);
  gpuHandle = null;
}
