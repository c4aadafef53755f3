// GpuContext: one GPUDevice and everything needed to run kernels on it: buffer pools, the pipeline
// cache, one open command encoder and compute pass that collect many dispatches until `flush()`
// submits them, async readback, and GPU errors turned into thrown JS errors that name the kernel.
//
// Ordering rules this file enforces:
// - Dispatches, copies and clears are recorded in one encoder and run in order, so a buffer freed
//   and reused within a batch is safe as long as every use is a recorded command.
// - `queue.writeBuffer` runs before the unsubmitted batch. Uploads into a buffer the batch already
//   uses therefore go through a staging buffer and a recorded copy (`upload`).
// - Uniform buffers are immutable and shared by content; bind groups are cached by the buffers
//   they bind. Anything destroyed is destroyed only after the batch that used it was submitted.
import type { KernelSpec, UniformValues, Workgroups } from '../../kernels/spec';
import { BufferPool, type PoolStats } from './buffer-pool';
import { BufferUsage, MapMode } from './gpu-constants';
import { PipelineCache, type CompiledKernel } from './pipeline-cache';
import { packUniforms } from './uniforms';
import { awaitGpu } from './waiting';

/** A byte range of a GPU buffer: what a kernel binding, a copy or a readback works on. */
export interface BufferRange {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

export interface ContextOptions {
  /** Submit automatically after this many dispatches (default 4096: a training step is one submit). */
  maxDispatchesPerSubmit?: number;
  /** Submit after every dispatch, so a GPU error names the exact kernel (slow). */
  debug?: boolean;
  /** Adapter facts a GPUDevice does not carry itself (requestContext fills them in). */
  adapterInfo?: Partial<AdapterDescription> & { subgroupMinSize?: number; subgroupMaxSize?: number };
  /**
   * How many workgroups the device runs at once, where that is small and known: the CPU threads
   * of a software adapter (requestContext sets it for one). Kernels that hand out their tiles
   * through `ticketCounters` launch this many workgroups; 0 (the default) launches one per tile.
   */
  concurrentWorkgroups?: number;
}

export interface ContextStats {
  dispatches: number;
  submits: number;
  pipelines: number;
  storage: PoolStats;
}

const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
const UNIFORM_CACHE_LIMIT = 8192;
const BIND_GROUP_CACHE_LIMIT = 16384;
const TIMER_PASSES = 256;
const PROFILE_SET = 2048;
const FNV_OFFSET = 0x811c9dc5;
/** Numbers the contexts, so that the batch signatures of two contexts (kernel ids restart in each) never meet. */
let contextCount = 0;

/** FNV-1a over 32-bit values: a batch's signature, built as it is recorded. */
function mixHash(hash: number, value: number): number {
  return Math.imul(hash ^ value, 0x01000193) >>> 0;
}

/** 'a batch of N dispatches (kernels: a, b)' for error messages, each kernel named once. */
function describeBatch(kernels: readonly string[]): string {
  return `a batch of ${kernels.length} dispatches (kernels: ${[...new Set(kernels)].join(', ') || 'copies only'})`;
}

export class GpuContext {
  readonly device: GPUDevice;
  readonly queue: GPUQueue;
  readonly features: ReadonlySet<string>;
  readonly limits: GPUSupportedLimits;
  readonly adapter: AdapterDescription;
  /** Subgroup size of the hardware when it has subgroups of one fixed size, else null. */
  readonly hardwareSubgroupSize: number | null;
  /** Set false to make ops pick their kernels without subgroups (tests do, to cover both paths). */
  useSubgroups = true;
  readonly storage: BufferPool;
  readonly pipelines: PipelineCache;
  debug: boolean;
  maxDispatchesPerSubmit: number;

  private readonly readback: BufferPool;
  private readonly staging: BufferPool;
  private encoder: GPUCommandEncoder | null = null;
  /** The kernels of the last submitted batch, named by errors that come outside an error scope. */
  private lastBatchKernels: string[] = [];
  private pass: GPUComputePassEncoder | null = null;
  private batchKernels: string[] = [];
  /** What the open batch records, hashed (kernels, their uniforms, grids, copies), for `unwaited`. */
  private batchHash = FNV_OFFSET;
  /** The signature of the last submitted batch until a wait takes it: the key of that wait's length (runtime/waiting.ts). */
  private unwaited: string | null = null;
  private readonly contextId = ++contextCount;
  private touched = new Set<GPUBuffer>();
  /** Per buffer, the number of the last recorded command that writes it (see `writeStamp`). */
  private readonly writeStamps = new WeakMap<GPUBuffer, number>();
  private writeCount = 0;
  private afterSubmit: (() => void)[] = [];
  private readonly uniformCache = new Map<string, GPUBuffer>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private pendingChecks: Promise<string | null>[] = [];
  private failure: Error | null = null;
  private destroyed = false;
  private dispatchCount = 0;
  private submitCount = 0;
  private timer: { querySet: GPUQuerySet; passes: number } | null = null;
  private tickets: GPUBuffer | null = null;
  private concurrent = 0;
  private profiler: { sets: GPUQuerySet[]; names: string[] } | null = null;

  constructor(device: GPUDevice, options: ContextOptions = {}) {
    this.device = device;
    this.queue = device.queue;
    this.features = new Set(device.features as unknown as Iterable<string>);
    this.limits = device.limits;
    const info = options.adapterInfo ?? (device as unknown as { adapterInfo?: ContextOptions['adapterInfo'] }).adapterInfo ?? {};
    this.adapter = {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
    };
    const { subgroupMinSize: min, subgroupMaxSize: max } = info;
    this.hardwareSubgroupSize = this.features.has('subgroups') && min && min === max ? min : null;
    this.concurrentWorkgroups = options.concurrentWorkgroups ?? 0;
    this.debug = options.debug ?? false;
    this.maxDispatchesPerSubmit = options.maxDispatchesPerSubmit ?? 4096;
    const forget = (buffer: GPUBuffer) => this.forgetBuffer(buffer);
    this.storage = new BufferPool(device, STORAGE_USAGE, 'storage', forget);
    this.readback = new BufferPool(device, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'readback');
    this.staging = new BufferPool(device, BufferUsage.COPY_SRC | BufferUsage.COPY_DST, 'staging', forget);
    this.pipelines = new PipelineCache(device, this.features, (check) => this.watch(check));
    device.addEventListener('uncapturederror', (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.failure ??= new Error(`GPU error${this.lastBatchNote()}: ${error.message}`);
    });
    void device.lost.then((info) => {
      if (!this.destroyed) this.failure ??= new Error(`GPU device lost${this.lastBatchNote()} (${info.reason}): ${info.message}`);
    });
  }

  /**
   * How many workgroups a launch of a kernel that hands out its tiles by tickets has at most
   * (ContextOptions.concurrentWorkgroups; 0: one per tile). Tests change it to cover launches
   * where each subgroup draws many tiles, and one tile each.
   */
  get concurrentWorkgroups(): number {
    return this.concurrent;
  }

  set concurrentWorkgroups(n: number) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`GpuContext: concurrentWorkgroups must be a whole number ≥ 0, got ${n}`);
    this.concurrent = n;
  }

  /** The subgroup size kernels may rely on, or null: choose a kernel without subgroups. */
  get subgroupSize(): number | null {
    return this.useSubgroups ? this.hardwareSubgroupSize : null;
  }

  /** Throws the first GPU error seen so far (compile errors, validation errors, device loss). */
  throwIfFailed(): void {
    if (this.destroyed) throw new Error('GpuContext: used after destroy()');
    if (this.failure) throw this.failure;
  }

  /**
   * Two u32 counters at zero, for kernels that hand out their tiles dynamically: each subgroup
   * draws tile numbers from the first (atomicAdd) until one is past the last tile, then counts
   * itself done in the second, and the last of the launch to finish sets both back to zero, so the
   * next launch finds them at zero again (kernels/conv2d.ts). Launches run one after another in
   * submission order, so one pair serves every launch. Made on first use (zero-filled).
   */
  ticketCounters(): BufferRange {
    this.throwIfFailed();
    this.tickets ??= this.device.createBuffer({ size: 16, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC, label: 'tile tickets' });
    return { buffer: this.tickets, offset: 0, size: 16 };
  }

  /** Allocates a storage buffer range of at least `byteSize` bytes from the pool. */
  alloc(byteSize: number): BufferRange {
    const buffer = this.storage.acquire(byteSize);
    return { buffer, offset: 0, size: Math.max(4, Math.ceil(byteSize / 4) * 4) };
  }

  /** Returns a buffer from `alloc` to the pool. Safe while recorded commands still use it. */
  free(range: BufferRange): void {
    this.storage.release(range.buffer);
  }

  /** Records one kernel launch. Buffers bind in the order of spec.bindings. */
  run(spec: KernelSpec, buffers: BufferRange[], uniforms: UniformValues = {}, workgroups?: Workgroups): void {
    this.throwIfFailed();
    if (buffers.length !== spec.bindings.length) {
      throw new Error(`kernel ${spec.name}: expects ${spec.bindings.length} buffers, got ${buffers.length}`);
    }
    const groups = workgroups ?? spec.dispatch(uniforms);
    const maxGroups = this.limits.maxComputeWorkgroupsPerDimension;
    if (groups.some((g) => g > maxGroups || g < 0 || !Number.isInteger(g))) {
      throw new Error(`kernel ${spec.name}: dispatch [${groups}] is outside the device limit of ${maxGroups} per dimension`);
    }
    if (groups[0] * groups[1] * groups[2] === 0) return;
    const kernel = this.pipelines.get(spec);
    const { bindGroup, uniformHash } = this.bindGroupFor(kernel, buffers, uniforms);
    if (this.profiler) this.endPass(); // each profiled dispatch gets its own timed pass
    const pass = this.profiler ? this.profiledPass(spec.name) : this.computePass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    this.note(kernel.id, uniformHash, groups[0], groups[1], groups[2]);
    if (this.profiler) this.endPass();
    for (let i = 0; i < buffers.length; i++) {
      this.touched.add(buffers[i]!.buffer);
      if (spec.bindings[i] === 'read_write') this.wrote(buffers[i]!.buffer);
    }
    this.batchKernels.push(spec.name);
    this.dispatchCount++;
    if (this.debug || this.batchKernels.length >= this.maxDispatchesPerSubmit) this.flush();
  }

  /**
   * A number that changes whenever a command that writes `buffer` is recorded (a dispatch that
   * binds it read_write, a copy or clear into it, an upload): equal stamps at two moments mean
   * the buffer's contents did not change in between, as far as commands recorded through this
   * context go. Caches of data derived from a buffer (a weight in another layout) check it.
   */
  writeStamp(buffer: GPUBuffer): number {
    return this.writeStamps.get(buffer) ?? 0;
  }

  private wrote(buffer: GPUBuffer): void {
    this.writeStamps.set(buffer, ++this.writeCount);
  }

  /** Records a copy of `src` into `dst` (equal sizes, multiples of 4 bytes). */
  copy(src: BufferRange, dst: BufferRange): void {
    this.throwIfFailed();
    if (src.size !== dst.size) throw new Error(`copy: source is ${src.size} bytes, destination ${dst.size}`);
    if (src.size === 0) return;
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src.buffer, src.offset, dst.buffer, dst.offset, src.size);
    this.note(-1, src.size);
    this.touched.add(src.buffer);
    this.touched.add(dst.buffer);
    this.wrote(dst.buffer);
  }

  /** Records zero-filling of a range (offset and size multiples of 4). */
  clear(range: BufferRange): void {
    this.throwIfFailed();
    if (range.size === 0) return;
    this.endPass();
    this.commandEncoder().clearBuffer(range.buffer, range.offset, range.size);
    this.note(-2, range.size);
    this.touched.add(range.buffer);
    this.wrote(range.buffer);
  }

  /** Writes `data` into `dst`, ordered after every command recorded so far. */
  upload(dst: BufferRange, data: ArrayBufferView): void {
    this.throwIfFailed();
    if (data.byteLength !== dst.size) throw new Error(`upload: data is ${data.byteLength} bytes, destination ${dst.size}`);
    if (data.byteLength === 0) return;
    this.wrote(dst.buffer);
    if (!this.touched.has(dst.buffer)) {
      this.queue.writeBuffer(dst.buffer, dst.offset, data.buffer, data.byteOffset, data.byteLength);
      return;
    }
    const staging = this.staging.acquire(data.byteLength);
    this.queue.writeBuffer(staging, 0, data.buffer, data.byteOffset, data.byteLength);
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(staging, 0, dst.buffer, dst.offset, data.byteLength);
    this.note(-3, data.byteLength);
    this.afterSubmit.push(() => this.staging.release(staging));
  }

  /** Copies `src` back to the CPU. Submits the open batch. */
  async read(src: BufferRange): Promise<ArrayBuffer> {
    this.throwIfFailed();
    const target = this.readback.acquire(src.size);
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src.buffer, src.offset, target, 0, src.size);
    this.note(-4, src.size);
    this.flush();
    try {
      await awaitGpu(target.mapAsync(MapMode.READ, 0, src.size), this.takeSignature());
    } catch (error) {
      await this.checkErrors();
      throw error;
    }
    const data = target.getMappedRange(0, src.size).slice(0);
    target.unmap();
    this.readback.release(target);
    await this.checkErrors();
    return data;
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    const kernels = this.batchKernels;
    this.lastBatchKernels = kernels;
    const encoder = this.encoder;
    this.encoder = null;
    this.batchKernels = [];
    this.unwaited = `${this.contextId}:${this.batchHash}:${kernels.length}`;
    this.batchHash = FNV_OFFSET;
    this.touched = new Set();
    this.device.pushErrorScope('validation');
    this.queue.submit([encoder.finish()]);
    this.submitCount++;
    this.watch(
      this.device.popErrorScope().then((error) => {
        if (!error) return null;
        return `GPU validation error in ${describeBatch(kernels)}: ${error.message}`;
      }),
    );
    const tasks = this.afterSubmit;
    this.afterSubmit = [];
    for (const task of tasks) task();
  }

  /** Submits and waits until the GPU has finished all work; throws any GPU error. */
  async sync(): Promise<void> {
    this.throwIfFailed();
    this.flush();
    await awaitGpu(this.queue.onSubmittedWorkDone(), this.takeSignature());
    await this.checkErrors();
  }

  /** Waits for pending compile/validation checks and throws the first error. */
  async checkErrors(): Promise<void> {
    const checks = this.pendingChecks;
    this.pendingChecks = [];
    // Report the earliest problem first: a kernel that failed to compile explains the batch errors after it.
    const first = (await awaitGpu(Promise.all(checks))).find((message) => message !== null);
    if (first) this.failure ??= new Error(first);
    this.throwIfFailed();
  }

  /** Starts measuring GPU time with timestamp queries; null when the device has none. */
  startGpuTimer(): boolean {
    if (!this.features.has('timestamp-query')) return false;
    this.endPass();
    this.timer ??= {
      querySet: this.device.createQuerySet({ type: 'timestamp', count: 2 * TIMER_PASSES }),
      passes: 0,
    };
    this.timer.passes = 0;
    return true;
  }

  /** Stops the timer and returns the summed duration of the timed compute passes in ms. */
  async stopGpuTimer(): Promise<number | null> {
    const timer = this.timer;
    if (!timer) return null;
    this.endPass();
    const count = 2 * timer.passes;
    this.timer = null;
    if (count === 0) return 0;
    const resolved = this.device.createBuffer({ size: count * 8, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
    this.commandEncoder().resolveQuerySet(timer.querySet, 0, count, resolved, 0);
    const bytes = await this.read({ buffer: resolved, offset: 0, size: count * 8 });
    resolved.destroy();
    timer.querySet.destroy();
    const stamps = new BigUint64Array(bytes);
    let ns = 0n;
    for (let i = 0; i < count; i += 2) ns += stamps[i + 1]! - stamps[i]!;
    return Number(ns) / 1e6;
  }

  /**
   * Starts timing every dispatch on its own (one compute pass each, with timestamp queries), for a
   * per-kernel breakdown. Slower than normal running; false when the device has no timestamp queries.
   * For sub-millisecond kernels create the device with Dawn's `disable-dawn-features=timestamp_quantization`.
   */
  startProfile(): boolean {
    if (!this.features.has('timestamp-query')) return false;
    this.endPass();
    this.profiler = { sets: [], names: [] };
    return true;
  }

  /** Stops profiling: total GPU ms and dispatch count per kernel name, slowest first. */
  async stopProfile(): Promise<{ kernel: string; dispatches: number; ms: number }[]> {
    const profiler = this.profiler;
    if (!profiler) return [];
    this.endPass();
    this.profiler = null;
    const totals = new Map<string, { dispatches: number; ms: number }>();
    for (let s = 0; s < profiler.sets.length; s++) {
      const set = profiler.sets[s]!;
      const names = profiler.names.slice(s * PROFILE_SET, (s + 1) * PROFILE_SET);
      const count = 2 * names.length;
      const resolved = this.device.createBuffer({ size: count * 8, usage: BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC });
      this.endPass();
      this.commandEncoder().resolveQuerySet(set, 0, count, resolved, 0);
      const stamps = new BigUint64Array(await this.read({ buffer: resolved, offset: 0, size: count * 8 }));
      resolved.destroy();
      set.destroy();
      names.forEach((name, i) => {
        const t = totals.get(name) ?? { dispatches: 0, ms: 0 };
        t.dispatches++;
        t.ms += Number(stamps[2 * i + 1]! - stamps[2 * i]!) / 1e6;
        totals.set(name, t);
      });
    }
    return [...totals].map(([kernel, t]) => ({ kernel, ...t })).sort((a, b) => b.ms - a.ms);
  }

  private profiledPass(name: string): GPUComputePassEncoder {
    const profiler = this.profiler!;
    const index = profiler.names.length % PROFILE_SET;
    if (index === 0) profiler.sets.push(this.device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_SET }));
    profiler.names.push(name);
    this.pass = this.commandEncoder().beginComputePass({
      timestampWrites: { querySet: profiler.sets[profiler.sets.length - 1]!, beginningOfPassWriteIndex: 2 * index, endOfPassWriteIndex: 2 * index + 1 },
    });
    return this.pass;
  }

  /** Frees pooled (unused) buffers; submits first so none is still needed by a batch. */
  trim(): void {
    this.flush();
    this.storage.trim();
    this.staging.trim();
    this.readback.trim();
  }

  stats(): ContextStats {
    return {
      dispatches: this.dispatchCount,
      submits: this.submitCount,
      pipelines: this.pipelines.size,
      storage: this.storage.stats(),
    };
  }

  /** Releases every GPU object of this context and destroys the device. */
  destroy(): void {
    if (this.destroyed) return;
    this.flush();
    this.destroyed = true;
    this.storage.destroyAll();
    this.staging.destroyAll();
    this.readback.destroyAll();
    this.tickets?.destroy();
    this.tickets = null;
    for (const buffer of this.uniformCache.values()) buffer.destroy();
    this.uniformCache.clear();
    this.bindGroups.clear();
    this.device.destroy();
  }

  /** Mixes what a recorded command is (a kernel id, or a negative code for copies) and its sizes into the batch's signature. */
  private note(...values: number[]): void {
    for (const v of values) this.batchHash = mixHash(this.batchHash, v);
  }

  /**
   * The signature of the batch submitted last, once: a wait that follows a submit is keyed by it
   * (its expected length comes from the last waits for the same batch); a wait with nothing newly
   * submitted gets no key, so its near-zero length is not remembered.
   */
  private takeSignature(): string | undefined {
    const signature = this.unwaited ?? undefined;
    this.unwaited = null;
    return signature;
  }

  /** ' after a batch of N dispatches (kernels: a, b)', or '', for errors Dawn reports outside an error scope. */
  private lastBatchNote(): string {
    return this.lastBatchKernels.length ? ` after ${describeBatch(this.lastBatchKernels)}` : '';
  }

  private watch(check: Promise<string | null>): void {
    this.pendingChecks.push(check.catch((error: unknown) => (error instanceof Error ? error.message : String(error))));
  }

  private commandEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    const descriptor: GPUComputePassDescriptor = {};
    if (this.timer && this.timer.passes < TIMER_PASSES) {
      const i = this.timer.passes++;
      descriptor.timestampWrites = {
        querySet: this.timer.querySet,
        beginningOfPassWriteIndex: 2 * i,
        endOfPassWriteIndex: 2 * i + 1,
      };
    }
    this.pass = this.commandEncoder().beginComputePass(descriptor);
    return this.pass;
  }

  private endPass(): void {
    if (!this.pass) return;
    this.pass.end();
    this.pass = null;
  }

  private bufferId(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) this.bufferIds.set(buffer, (id = this.nextBufferId++));
    return id;
  }

  /** The shared uniform buffer holding `values`, and a hash of those values (for the batch's signature). */
  private uniformBuffer(kernel: CompiledKernel, values: UniformValues): { buffer: GPUBuffer; hash: number } {
    const bytes = packUniforms(kernel.spec.name, kernel.uniformLayout!, values);
    let hash = FNV_OFFSET;
    for (const word of new Uint32Array(bytes)) hash = mixHash(hash, word);
    const key = String.fromCharCode(...new Uint16Array(bytes));
    let buffer = this.uniformCache.get(key);
    if (buffer) return { buffer, hash };
    if (this.uniformCache.size >= UNIFORM_CACHE_LIMIT) this.dropUniformCache();
    buffer = this.device.createBuffer({
      size: bytes.byteLength,
      usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
      mappedAtCreation: true,
      label: 'uniforms',
    });
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(bytes));
    buffer.unmap();
    this.uniformCache.set(key, buffer);
    return { buffer, hash };
  }

  private dropUniformCache(): void {
    const old = [...this.uniformCache.values()];
    this.uniformCache.clear();
    this.bindGroups.clear();
    this.afterSubmit.push(() => old.forEach((b) => b.destroy()));
  }

  /** The (cached) bind group of a launch, and the hash of its uniform values (0 without uniforms). */
  private bindGroupFor(kernel: CompiledKernel, buffers: BufferRange[], uniforms: UniformValues): { bindGroup: GPUBindGroup; uniformHash: number } {
    const maxBinding = this.limits.maxStorageBufferBindingSize;
    const align = this.limits.minStorageBufferOffsetAlignment;
    let key = `${kernel.id}`;
    buffers.forEach((b, i) => {
      if (b.size > maxBinding) {
        throw new Error(
          `kernel ${kernel.spec.name}: binding ${i} is ${b.size} bytes, over the device's maxStorageBufferBindingSize (${maxBinding})`,
        );
      }
      if (b.offset % align !== 0) {
        throw new Error(`kernel ${kernel.spec.name}: binding ${i} starts at byte ${b.offset}, not a multiple of ${align}`);
      }
      key += `|${this.bufferId(b.buffer)}:${b.offset}:${b.size}`;
    });
    const uniform = kernel.uniformLayout ? this.uniformBuffer(kernel, uniforms) : null;
    const uniformHash = uniform?.hash ?? 0;
    if (uniform) key += `|u${this.bufferId(uniform.buffer)}`;
    let group = this.bindGroups.get(key);
    if (group) return { bindGroup: group, uniformHash };
    if (this.bindGroups.size >= BIND_GROUP_CACHE_LIMIT) this.bindGroups.clear();
    const entries: GPUBindGroupEntry[] = buffers.map((b, binding) => ({
      binding,
      resource: { buffer: b.buffer, offset: b.offset, size: b.size },
    }));
    if (uniform) entries.push({ binding: buffers.length, resource: { buffer: uniform.buffer } });
    group = this.device.createBindGroup({ layout: kernel.layout, entries, label: kernel.spec.name });
    this.bindGroups.set(key, group);
    return { bindGroup: group, uniformHash };
  }

  private forgetBuffer(_buffer: GPUBuffer): void {
    // Bind groups hold buffers; any destroyed buffer invalidates the cache (rare: only on trim()).
    this.bindGroups.clear();
  }
}
