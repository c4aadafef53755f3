// Getting a GPUDevice: from a `GPU` object (navigator.gpu in a browser, the `webgpu` package in
// Node), asking for the adapter's largest buffer limits and the features our kernels can use.
import { GpuContext, type ContextOptions } from './context';

export interface RequestOptions extends ContextOptions {
  powerPreference?: GPUPowerPreference;
  /**
   * The CPU threads a software adapter (lavapipe, SwiftShader) runs its shaders on, for
   * `concurrentWorkgroups` when that is not given (default: navigator.hardwareConcurrency, else 4).
   */
  cpuThreads?: number;
}

/** What to do when no adapter is found, for the error message. */
export const NO_ADAPTER_HELP = [
  'No WebGPU adapter was found.',
  'On Debian/Ubuntu without a GPU, install the software Vulkan driver (Mesa lavapipe) from bookworm-backports:',
  "  echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bpo.list",
  '  apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1',
  'or run `npm run setup`, which does this when it can.',
].join('\n');

const OPTIONAL_FEATURES = ['subgroups', 'timestamp-query', 'shader-f16'] as const;

const WANTED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

export async function requestContext(gpu: GPU, options: RequestOptions = {}): Promise<GpuContext> {
  const adapter = await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : {});
  if (!adapter) throw new Error(NO_ADAPTER_HELP);
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)) as GPUFeatureName[];
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  const info = adapter.info;
  const software = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const cpuThreads = options.cpuThreads ?? (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 4;
  return new GpuContext(device, {
    ...options,
    concurrentWorkgroups: options.concurrentWorkgroups ?? (software ? cpuThreads : 0),
    adapterInfo: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      subgroupMinSize: (info as { subgroupMinSize?: number }).subgroupMinSize,
      subgroupMaxSize: (info as { subgroupMaxSize?: number }).subgroupMaxSize,
    },
  });
}
