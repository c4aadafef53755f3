// init(): sets up the default GPU context in a browser or from a device the caller owns.
// (Node programs use initNode() from 'wgtensor/node', which brings the `webgpu` package.)
import { GpuContext, type ContextOptions } from './runtime/context';
import { requestContext, type RequestOptions } from './runtime/device';
import { setContext } from './state';

export interface InitOptions extends RequestOptions {
  /** Use this device instead of requesting one. */
  device?: GPUDevice;
  /** Use this GPU object instead of navigator.gpu. */
  gpu?: GPU;
}

export async function init(options: InitOptions = {}): Promise<GpuContext> {
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
