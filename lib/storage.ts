// Storage: a reference-counted range of a GPU buffer that one or more tensors read. A storage made
// by `Storage.alloc` owns a pooled buffer and returns it to the pool when its count reaches zero; a
// storage made by `view` is a window into a parent storage (a parameter inside a model's flat
// buffer, say) and keeps the parent alive.
//
// Ranges handed to kernels are padded to a multiple of 16 bytes so kernels may read and write whole
// vec4s; the padding lies inside the allocation (pool size classes are multiples of 256 bytes, and
// views are placed at 256-byte boundaries with padding after them).
import type { BufferRange, GpuContext } from './runtime/context';

export function paddedBytes(elements: number): number {
  return Math.max(16, Math.ceil((elements * 4) / 16) * 16);
}

export class Storage {
  private refs = 1;

  private constructor(
    readonly ctx: GpuContext,
    readonly range: BufferRange,
    private readonly parent: Storage | null,
  ) {}

  /** A new pooled buffer with room for `elements` floats (contents undefined). */
  static alloc(ctx: GpuContext, elements: number): Storage {
    const bytes = paddedBytes(elements);
    const range = ctx.alloc(bytes);
    return new Storage(ctx, { buffer: range.buffer, offset: 0, size: bytes }, null);
  }

  /** A window of `elements` floats at `elementOffset` (a multiple of 64) into this storage. */
  view(elementOffset: number, elements: number): Storage {
    const offset = this.range.offset + elementOffset * 4;
    if (offset % 256 !== 0) throw new Error(`Storage.view: offset ${elementOffset} is not a multiple of 64 floats`);
    const size = paddedBytes(elements);
    if (elementOffset * 4 + size > this.range.size) {
      throw new Error(`Storage.view: ${elements} floats at ${elementOffset} exceed a storage of ${this.range.size} bytes`);
    }
    this.retain();
    return new Storage(this.ctx, { buffer: this.range.buffer, offset, size }, this);
  }

  get alive(): boolean {
    return this.refs > 0;
  }

  retain(): void {
    if (this.refs <= 0) throw new Error('Storage: retain after free');
    this.refs++;
  }

  release(): void {
    if (this.refs <= 0) throw new Error('Storage: released twice');
    if (--this.refs > 0) return;
    if (this.parent) this.parent.release();
    else this.ctx.free(this.range);
  }
}
