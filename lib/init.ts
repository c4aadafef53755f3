// init(): sets up the default GPU context in a browser or from a device the caller owns.
// (Node programs use initNode() from 'wgtensor/node', which brings the `webgpu` package.)
import { GpuContext, type ContextOptions } from './runtime/context';
import { requestContext, type RequestOptions } from './runtime/device';
import { getContext, hasContext, setContext } from './state';

export interface InitOptions extends RequestOptions {
  /** Use this device instead of requesting one. */
  device?: GPUDevice;
  /** Use this GPU object instead of navigator.gpu. */
  gpu?: GPU;
}

/**
 * Sets up the default context (or returns the one already set up, as initNode() does: call
 * getContext().destroy() and setContext(null) first to start again on another device).
 */
export async function init(options: InitOptions = {}): Promise<GpuContext> {
  if (hasContext()) {
    const existing = getContext();
    if (options.device && options.device !== existing.device) {
      throw new Error('init: the default context already uses another GPUDevice; destroy it first (getContext().destroy(); setContext(null))');
    }
    return existing;
  }
  let ctx: GpuContext;
  if (options.device) {
    ctx = new GpuContext(options.device, options as ContextOptions);
  } else {
    const gpu = options.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu;
    if (!gpu) throw new Error('init: WebGPU is not available here (no navigator.gpu); pass { gpu } or { device }');
    ctx = await requestContext(gpu, options);
  }
  setContext(ctx);
  return ctx;
}
