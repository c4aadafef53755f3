// Seeded epoch iterator over an in-memory image set. Each epoch draws a permutation of 0..count-1
// with Fisher–Yates from the loader's own lib Generator (identity order when shuffle is off) and cuts
// it into batches of batchSize; with dropLast (the default, as MoCo needs) the count % batchSize
// leftover images are not used that epoch, otherwise the last batch is short. A batch is a fresh
// contiguous Uint8Array of n × S × S × 3 (HWC per image, the source layout) plus labels and the
// source indices. The state (epoch, next batch, generator state from before the epoch's permutation
// was drawn) can be saved at any point between batches, and a loader restored from it hands out the
// same remaining batches and later epochs as the original.
import { Generator, type GeneratorState } from '../../lib/index';

export interface ImageSet {
  /** count × size × size × 3 uint8. */
  images: Uint8Array;
  labels: Int32Array;
  size: number;
  count: number;
}

export interface Batch {
  /** n × S × S × 3 uint8, image j at offset j·S·S·3. */
  images: Uint8Array;
  labels: Int32Array;
  /** Index of each image in the source set. */
  indices: Int32Array;
  /** n: images in this batch. */
  count: number;
  size: number;
  epoch: number;
  /** Position of this batch in its epoch. */
  index: number;
}

export interface LoaderOptions {
  batchSize: number;
  /** Seed of the loader's generator (ignored when `generator` is given). Default 0. */
  seed?: number;
  /** The generator to draw epoch orders from; the loader is its only user. */
  generator?: Generator;
  shuffle?: boolean;
  dropLast?: boolean;
}

export interface LoaderState {
  /** The epoch in progress, or the next one when between epochs. */
  epoch: number;
  /** The next batch of that epoch to hand out. */
  batch: number;
  /** Generator state before that epoch's order was drawn. */
  generator: GeneratorState;
}

export class EpochLoader {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly batchesPerEpoch: number;
  private readonly generator: Generator;
  private readonly pixels: number;
  private epochIndex = 0;
  private cursor = 0;
  private order: Int32Array | null = null;
  private epochStart: GeneratorState;

  constructor(
    private readonly data: ImageSet,
    options: LoaderOptions,
  ) {
    const { batchSize } = options;
    this.pixels = data.size * data.size * 3;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`EpochLoader: batch size must be a positive integer, got ${batchSize}`);
    if (data.labels.length !== data.count || data.images.length !== data.count * this.pixels) {
      throw new Error(
        `EpochLoader: ${data.count} images of ${data.size}×${data.size}×3 need ${data.count * this.pixels} bytes and ` +
          `${data.count} labels, got ${data.images.length} bytes and ${data.labels.length} labels`,
      );
    }
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? true;
    this.dropLast = options.dropLast ?? true;
    this.batchesPerEpoch = this.dropLast ? Math.floor(data.count / batchSize) : Math.ceil(data.count / batchSize);
    if (this.batchesPerEpoch === 0) {
      throw new Error(`EpochLoader: batch size ${batchSize} with drop_last leaves no batch from ${data.count} images`);
    }
    this.generator = options.generator ?? new Generator(options.seed ?? 0);
    this.epochStart = this.generator.getState();
  }

  /** The epoch in progress, or the next one. */
  get epoch(): number {
    return this.epochIndex;
  }

  /**
   * The batches of the current epoch from the next one not yet handed out (all of them when a new
   * epoch starts). Breaking out early keeps the position: the next call continues the same epoch
   * (or starts the next one when every batch was already out).
   */
  *nextEpoch(): IterableIterator<Batch> {
    if (this.order !== null && this.cursor === this.batchesPerEpoch) this.finishEpoch(); // all out already
    if (this.order === null) {
      this.epochStart = this.generator.getState();
      this.order = this.shuffle ? this.generator.permutation(this.data.count) : Int32Array.from({ length: this.data.count }, (_, i) => i);
    }
    while (this.cursor < this.batchesPerEpoch) {
      const batch = this.makeBatch(this.cursor);
      this.cursor++;
      yield batch;
    }
    this.finishEpoch();
  }

  private finishEpoch(): void {
    this.order = null;
    this.cursor = 0;
    this.epochIndex++;
  }

  /** Where the loader stands: the batches not yet handed out start at (epoch, batch). */
  state(): LoaderState {
    if (this.order !== null && this.cursor === this.batchesPerEpoch) {
      // Every batch of this epoch is out: the same as standing at the start of the next one.
      return { epoch: this.epochIndex + 1, batch: 0, generator: this.generator.getState() };
    }
    const generator = this.order === null ? this.generator.getState() : this.epochStart;
    return { epoch: this.epochIndex, batch: this.cursor, generator: { s: [...generator.s], spare: generator.spare } };
  }

  restore(state: LoaderState): void {
    if (!Number.isInteger(state.epoch) || state.epoch < 0 || !Number.isInteger(state.batch) || state.batch < 0 || state.batch > this.batchesPerEpoch) {
      throw new Error(`EpochLoader.restore: epoch ${state.epoch}, batch ${state.batch} is not a position of an epoch of ${this.batchesPerEpoch} batches`);
    }
    this.generator.setState(state.generator);
    this.epochIndex = state.epoch;
    this.cursor = state.batch;
    this.order = null; // redrawn from the restored generator state on the next nextEpoch()
    if (this.cursor === this.batchesPerEpoch) {
      // A finished epoch: draw (and drop) its order so the generator stands where the next one starts.
      if (this.shuffle) this.generator.permutation(this.data.count);
      this.epochIndex++;
      this.cursor = 0;
    }
  }

  private makeBatch(index: number): Batch {
    const order = this.order!;
    const start = index * this.batchSize;
    const n = Math.min(this.batchSize, this.data.count - start);
    const px = this.pixels;
    const images = new Uint8Array(n * px);
    const labels = new Int32Array(n);
    const indices = order.slice(start, start + n);
    for (let j = 0; j < n; j++) {
      const src = indices[j]!;
      images.set(this.data.images.subarray(src * px, (src + 1) * px), j * px);
      labels[j] = this.data.labels[src]!;
    }
    return { images, labels, indices, count: n, size: this.data.size, epoch: this.epochIndex, index };
  }
}
