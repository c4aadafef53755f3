// Compiles each KernelSpec once per `key` (kernel name + compile-time config; tensor sizes travel
// in uniforms, so one pipeline serves every shape). Layouts are explicit, built from the spec's
// binding list. Shader compilation errors are collected asynchronously and reported, with the
// kernel's name and the compiler's messages, at the next sync point of the context.
import type { KernelSpec } from '../../kernels/spec';
import { ShaderStage } from './gpu-constants';
import { layoutUniforms, type UniformLayout } from './uniforms';

export interface CompiledKernel {
  spec: KernelSpec;
  id: number;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  uniformLayout: UniformLayout | null;
}

export class PipelineCache {
  private readonly cache = new Map<string, CompiledKernel>();
  private nextId = 1;

  constructor(
    private readonly device: GPUDevice,
    private readonly features: ReadonlySet<string>,
    /** Receives a promise that resolves to an error message, or null when compilation succeeded. */
    private readonly report: (check: Promise<string | null>) => void,
  ) {}

  get size(): number {
    return this.cache.size;
  }

  get(spec: KernelSpec): CompiledKernel {
    const hit = this.cache.get(spec.key);
    if (hit) return hit;
    for (const feature of spec.requires ?? []) {
      if (!this.features.has(feature)) {
        throw new Error(`kernel ${spec.name}: needs the device feature '${feature}', which this device lacks`);
      }
    }
    const compiled = this.compile(spec);
    this.cache.set(spec.key, compiled);
    return compiled;
  }

  private compile(spec: KernelSpec): CompiledKernel {
    const device = this.device;
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: spec.code, label: spec.name });
    const entries: GPUBindGroupLayoutEntry[] = spec.bindings.map((access, binding) => ({
      binding,
      visibility: ShaderStage.COMPUTE,
      buffer: { type: access === 'read' ? 'read-only-storage' : 'storage' },
    }));
    const uniformLayout = spec.uniforms.length ? layoutUniforms(spec.uniforms) : null;
    if (uniformLayout) {
      entries.push({ binding: spec.bindings.length, visibility: ShaderStage.COMPUTE, buffer: { type: 'uniform' } });
    }
    const layout = device.createBindGroupLayout({ entries, label: spec.name });
    const pipeline = device.createComputePipeline({
      label: spec.name,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout], label: spec.name }),
      compute: { module, entryPoint: 'main' },
    });
    const scope = device.popErrorScope();
    this.report(
      Promise.all([scope, module.getCompilationInfo()]).then(([error, info]) => {
        const messages = info.messages
          .filter((m) => m.type === 'error')
          .map((m) => `  line ${m.lineNum}:${m.linePos}: ${m.message}`);
        if (!error && messages.length === 0) return null;
        return [`kernel ${spec.name} (${spec.key}) failed to compile: ${error?.message ?? ''}`, ...messages].join('\n');
      }),
    );
    return { spec, id: this.nextId++, pipeline, layout, uniformLayout };
  }
}
