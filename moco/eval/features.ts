// Feature extraction for evaluation: images (uint8, HWC, S×S, as the data cache stores them) go
// through the evaluation ("center") transform — the whole cached image, no jitter, no flip, only
// normalisation — and then through a frozen encoder in eval mode under noGrad, batch by batch.
// Per batch: one upload of that batch's bytes, the augment kernel, the encoder, optionally the row
// L2 normalisation, one readback; every tensor of the batch is freed before the next, so memory
// stays flat whatever the number of images. The encoder's training flag is restored afterwards.
import { l2Normalize, noGrad, scope, type Tensor } from '../../lib/index';
import { IMAGENET_MEAN, IMAGENET_STD, augment, uploadImages } from '../augment/pipeline';
import type { AugmentParams } from '../augment/params';

/** What feature extraction needs of a model (a ResNet from lib/nn/resnet.ts is one). */
export interface FeatureEncoder {
  training: boolean;
  train(mode?: boolean): unknown;
  /** Pooled backbone features [N, 512]. */
  backbone(x: Tensor): Tensor;
  /** The head's output [N, D]. */
  forward(x: Tensor): Tensor;
}

export type FeatureSource = 'backbone' | 'head';

/** Labelled images as the data layer gives them (an ImageDataset is one). */
export interface LabeledImages {
  /** count × size × size × 3 uint8, HWC, image after image. */
  images: Uint8Array;
  labels: Int32Array | readonly number[];
  count: number;
  size: number;
}

export interface ExtractOptions {
  /** Images per forward pass (default 128). */
  batchSize?: number;
  /** 'backbone' (the 512-d pooled features, default) or 'head' (the projection head's output). */
  features?: FeatureSource;
  /** L2-normalise each row (default true; linear evaluation uses raw features). */
  normalize?: boolean;
  /** Side of the images given to the encoder (default: the stored side, i.e. no resize). */
  outputSize?: number;
  /** Per-channel normalisation (default ImageNet's, as the training augmentation). */
  mean?: readonly number[];
  std?: readonly number[];
  /** Called after each batch with the number of images done so far. */
  onProgress?: (done: number, total: number) => void;
}

/** The evaluation transform of one image: the whole image, no colour change, no blur, no flip. */
export function centerParams(source: number, height: number, width: number): AugmentParams {
  return { source, crop: { top: 0, left: 0, height, width }, jitter: null, grayscale: false, blurSigma: null, flip: false };
}

/** centerParams for images 0..count-1 of a batch. */
export function centerBatchParams(count: number, height: number, width: number): AugmentParams[] {
  return Array.from({ length: count }, (_, i) => centerParams(i, height, width));
}

function positiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`extractFeatures: ${name} must be a positive integer, got ${v}`);
}

/**
 * Features of `count` images of size×size×3 uint8 (HWC, packed one after another) as a row-major
 * Float32Array [count, D] (D = 512 for 'backbone'). Rows are L2-normalised unless
 * `normalize: false`. The encoder runs in eval mode; its previous mode is restored.
 */
export async function extractFeatures(
  encoder: FeatureEncoder,
  images: Uint8Array,
  count: number,
  size: number,
  options: ExtractOptions = {},
): Promise<Float32Array> {
  const batchSize = options.batchSize ?? 128;
  const source = options.features ?? 'backbone';
  const normalize = options.normalize ?? true;
  const outputSize = options.outputSize ?? size;
  positiveInt('count', count);
  positiveInt('size', size);
  positiveInt('batchSize', batchSize);
  positiveInt('outputSize', outputSize);
  if (source !== 'backbone' && source !== 'head') throw new Error(`extractFeatures: features must be 'backbone' or 'head', got ${String(source)}`);
  if (!(images instanceof Uint8Array)) throw new Error('extractFeatures: images must be a Uint8Array of packed RGB bytes');
  const perImage = size * size * 3;
  if (images.length < count * perImage) {
    throw new Error(`extractFeatures: ${images.length} bytes hold fewer than ${count} images of ${size}×${size}×3 (${count * perImage} bytes)`);
  }
  const augmentOptions = { size: outputSize, mean: options.mean ?? IMAGENET_MEAN, std: options.std ?? IMAGENET_STD };

  const wasTraining = encoder.training;
  encoder.train(false);
  let out: Float32Array | null = null;
  let dim = 0;
  try {
    for (let start = 0; start < count; start += batchSize) {
      const n = Math.min(batchSize, count - start);
      const bytes = images.subarray(start * perImage, (start + n) * perImage);
      const features = noGrad(() =>
        scope(() => {
          const batch = uploadImages(bytes, n, size, size);
          const x = augment(batch, centerBatchParams(n, size, size), augmentOptions);
          const f = source === 'backbone' ? encoder.backbone(x) : encoder.forward(x);
          if (f.rank !== 2 || f.shape[0] !== n) {
            throw new Error(`extractFeatures: the encoder's ${source} output has shape [${f.shape}], expected [${n}, D]`);
          }
          return normalize ? l2Normalize(f) : f;
        }),
      );
      try {
        const rows = await features.toArray();
        if (!out) {
          dim = features.shape[1]!;
          out = new Float32Array(count * dim);
        }
        out.set(rows, start * dim);
      } finally {
        features.dispose();
      }
      options.onProgress?.(start + n, count);
    }
  } finally {
    encoder.train(wasTraining);
  }
  return out!;
}
