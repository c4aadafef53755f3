// A pool of GPU buffers of one usage, keyed by size class. `acquire` reuses a free buffer of the
// same class or creates one; `release` puts it back on its free list. Size classes round a request
// up by at most 12.5 % (and to at least 256 bytes), so shapes that repeat every training step map to
// the same buffers and memory stays flat. Nothing here depends on garbage collection.

export interface PoolStats {
  buffersInUse: number;
  bytesInUse: number;
  buffersPooled: number;
  bytesPooled: number;
  /** Buffers created since the pool was made (a growing number in a steady loop means a leak). */
  created: number;
}

/** Size class of a request in bytes: a multiple of 2^(floor(log2 n) - 3), at least 256. */
export function sizeClass(byteSize: number): number {
  const n = Math.max(256, Math.ceil(byteSize));
  const step = Math.max(256, 2 ** (Math.floor(Math.log2(n)) - 3));
  return Math.ceil(n / step) * step;
}

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly inUse = new Set<GPUBuffer>();
  private bytesInUse = 0;
  private bytesPooled = 0;
  private buffersPooled = 0;
  private created = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: number,
    private readonly label: string,
    /** Called before a buffer is destroyed, so caches holding it can drop it. */
    private readonly onDestroy: (buffer: GPUBuffer) => void = () => {},
  ) {}

  acquire(byteSize: number): GPUBuffer {
    const size = sizeClass(byteSize);
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (buffer) {
      this.bytesPooled -= size;
      this.buffersPooled--;
    } else {
      buffer = this.device.createBuffer({ size, usage: this.usage, label: `${this.label}[${size}]` });
      this.created++;
    }
    this.inUse.add(buffer);
    this.bytesInUse += size;
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.inUse.delete(buffer)) throw new Error(`${this.label}: released a buffer the pool does not own`);
    const size = buffer.size;
    this.bytesInUse -= size;
    this.bytesPooled += size;
    this.buffersPooled++;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buffer);
  }

  /** Destroys every free buffer (buffers in use are untouched). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const buffer of list) {
        this.onDestroy(buffer);
        buffer.destroy();
      }
    }
    this.free.clear();
    this.bytesPooled = 0;
    this.buffersPooled = 0;
  }

  stats(): PoolStats {
    return {
      buffersInUse: this.inUse.size,
      bytesInUse: this.bytesInUse,
      buffersPooled: this.buffersPooled,
      bytesPooled: this.bytesPooled,
      created: this.created,
    };
  }

  destroyAll(): void {
    this.trim();
    for (const buffer of this.inUse) buffer.destroy();
    this.inUse.clear();
    this.bytesInUse = 0;
  }
}
