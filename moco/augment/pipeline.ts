// The MoCo-v2 augmentation as a GPU op: a batch of packed uint8 RGB images (uploaded once) and one
// parameter record per output image in, a normalised float32 NCHW tensor out. No autograd.
//
// Per call: one upload of the packed parameter records, then up to four dispatches:
//   augment.stats  (when some image runs contrast)   contrast means
//   augment.main                                      crop, jitter, grayscale, flip (+ normalise)
//   augment.blur ×2 (when some image is blurred)      along x into scratch, along y back + normalise
//                                                     (vec4 kernels when S % 4 == 0, else scalar)
// Two views of a batch are two calls on the same uploaded ImageBatch (or one call with both views'
// records, giving a [2N, 3, S, S] tensor).
import { AUG_FIELD, AUG_FLAG, AUG_RECORD_WORDS, BLUR_MAX_RADIUS, JITTER_CODE } from '../../kernels/augment-common';
import { augmentMainGroups, augmentMainKernel, augmentStatsKernel } from '../../kernels/augment';
import { augmentBlurColumnsKernel, augmentBlurKernel, augmentBlurRowsKernel } from '../../kernels/augment-blur';
import type { KernelSpec } from '../../kernels/spec';
import { bufferRange, empty, fromBytes, type GpuContext, type Tensor } from '../../lib/index';
import type { AugmentParams } from './params';

export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];

/** Packed uint8 RGB images (HWC, image after image) on the GPU. */
export interface ImageBatch {
  data: Tensor;
  count: number;
  height: number;
  width: number;
}

export interface AugmentOptions {
  /** Output side S: images come out S×S. */
  size: number;
  /** Per-channel normalisation (default ImageNet's). */
  mean?: readonly number[];
  std?: readonly number[];
}

/** Uploads `count` images of height×width packed uint8 RGB (HWC). */
export function uploadImages(bytes: Uint8Array, count: number, height: number, width: number, options: { ctx?: GpuContext } = {}): ImageBatch {
  for (const [name, v] of [['count', count], ['height', height], ['width', width]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`uploadImages: ${name} must be a positive integer, got ${v}`);
  }
  if (!(bytes instanceof Uint8Array)) throw new Error('uploadImages: expected a Uint8Array of packed RGB bytes');
  const expected = count * height * width * 3;
  if (bytes.length !== expected) {
    throw new Error(`uploadImages: ${bytes.length} bytes for ${count} images of ${height}×${width} RGB, expected ${expected}`);
  }
  return { data: fromBytes(bytes, options.ctx ? { ctx: options.ctx } : {}), count, height, width };
}

/** Radius of the Gaussian kernel for σ: ceil(3σ). */
export function blurRadius(sigma: number): number {
  return Math.ceil(3 * sigma);
}

/** Normalised 1-D Gaussian weights w_0..w_r (torchvision's _get_gaussian_kernel1d, half of it). */
export function blurWeights(sigma: number): number[] {
  const r = blurRadius(sigma);
  const pdf = Array.from({ length: r + 1 }, (_, d) => Math.exp(-0.5 * (d / sigma) ** 2));
  const total = pdf[0]! + 2 * pdf.slice(1).reduce((a, b) => a + b, 0);
  return pdf.map((v) => v / total);
}

function checkParams(op: string, p: AugmentParams, i: number, batch: ImageBatch): void {
  const where = `${op}: params[${i}]`;
  if (!Number.isInteger(p.source) || p.source < 0 || p.source >= batch.count) {
    throw new Error(`${where}.source is ${p.source}, expected an integer in [0, ${batch.count})`);
  }
  const c = p.crop;
  const ints = [c.top, c.left, c.height, c.width].every((v) => Number.isInteger(v));
  if (!ints || c.top < 0 || c.left < 0 || c.height < 1 || c.width < 1 || c.top + c.height > batch.height || c.left + c.width > batch.width) {
    throw new Error(
      `${where}.crop {top ${c.top}, left ${c.left}, height ${c.height}, width ${c.width}} is not a box of whole pixels inside the ${batch.height}×${batch.width} image`,
    );
  }
  if (p.jitter) {
    const j = p.jitter;
    if (j.order.length > 4 || new Set(j.order).size !== j.order.length || j.order.some((o) => !(o in JITTER_CODE))) {
      throw new Error(`${where}.jitter.order [${j.order.join(', ')}] must list distinct ops among brightness, contrast, saturation, hue`);
    }
    for (const k of ['brightness', 'contrast', 'saturation'] as const) {
      if (!(Number.isFinite(j[k]) && j[k] >= 0)) throw new Error(`${where}.jitter.${k} is ${j[k]}, expected a finite factor ≥ 0`);
    }
    if (!(Math.abs(j.hue) <= 0.5)) throw new Error(`${where}.jitter.hue is ${j.hue}, expected a value in [-0.5, 0.5]`);
  }
  const sigma = p.blurSigma;
  if (sigma !== null && !(sigma > 0 && blurRadius(sigma) <= BLUR_MAX_RADIUS)) {
    throw new Error(`${where}.blurSigma is ${sigma}, expected σ in (0, ${BLUR_MAX_RADIUS / 3}] (radius ceil(3σ) ≤ ${BLUR_MAX_RADIUS})`);
  }
}

function checkChannels(op: string, name: string, v: readonly number[], positive: boolean): void {
  if (!Array.isArray(v) || v.length !== 3 || v.some((x) => !Number.isFinite(x) || (positive && x <= 0))) {
    throw new Error(`${op}: ${name} must be 3 finite numbers${positive ? ' > 0' : ''}, got [${String(v)}]`);
  }
}

interface Packed {
  words: Uint32Array;
  statsList: number[];
  blurList: number[];
  statsOffset: number;
  blurOffset: number;
}

/** Records (AUG_RECORD_WORDS words each), then the contrast list, then the blur list. */
function pack(params: readonly AugmentParams[]): Packed {
  const n = params.length;
  const statsList: number[] = [];
  const blurList: number[] = [];
  params.forEach((p, i) => {
    if (p.jitter?.order.includes('contrast')) statsList.push(i);
    if (p.blurSigma !== null) blurList.push(i);
  });
  const statsOffset = n * AUG_RECORD_WORDS;
  const blurOffset = statsOffset + statsList.length;
  const words = new Uint32Array(blurOffset + blurList.length);
  const floats = new Float32Array(words.buffer);
  params.forEach((p, i) => {
    const b = i * AUG_RECORD_WORDS;
    words[b + AUG_FIELD.source] = p.source;
    words[b + AUG_FIELD.top] = p.crop.top;
    words[b + AUG_FIELD.left] = p.crop.left;
    words[b + AUG_FIELD.height] = p.crop.height;
    words[b + AUG_FIELD.width] = p.crop.width;
    const order = p.jitter?.order ?? [];
    let code = order.length << 16;
    order.forEach((op, k) => (code |= JITTER_CODE[op] << (4 * k)));
    const cpos = order.indexOf('contrast');
    code |= (cpos < 0 ? 15 : cpos) << 20;
    words[b + AUG_FIELD.order] = code >>> 0;
    words[b + AUG_FIELD.flags] =
      (p.grayscale ? AUG_FLAG.grayscale : 0) | (p.flip ? AUG_FLAG.flip : 0) | (p.blurSigma !== null ? AUG_FLAG.blur : 0);
    if (p.jitter) {
      floats[b + AUG_FIELD.brightness] = p.jitter.brightness;
      floats[b + AUG_FIELD.contrast] = p.jitter.contrast;
      floats[b + AUG_FIELD.saturation] = p.jitter.saturation;
      floats[b + AUG_FIELD.hue] = p.jitter.hue;
    }
    if (p.blurSigma !== null) {
      const w = blurWeights(p.blurSigma);
      words[b + AUG_FIELD.radius] = w.length - 1;
      w.forEach((v, d) => (floats[b + AUG_FIELD.weights + d] = v));
    }
  });
  words.set(statsList, statsOffset);
  words.set(blurList, blurOffset);
  return { words, statsList, blurList, statsOffset, blurOffset };
}

const specCache = new Map<string, KernelSpec>();
function spec(key: string, make: () => KernelSpec): KernelSpec {
  let s = specCache.get(key);
  if (!s) specCache.set(key, (s = make()));
  return s;
}

/**
 * Augments `params.length` images: output image i is params[i] applied to input image
 * params[i].source. Returns a float32 tensor [params.length, 3, size, size].
 */
export function augment(batch: ImageBatch, params: readonly AugmentParams[], options: AugmentOptions): Tensor {
  const op = 'augment';
  if (!batch || typeof batch !== 'object' || !batch.data) throw new Error(`${op}: expected an ImageBatch from uploadImages`);
  batch.data.assertAlive(op);
  const needWords = Math.ceil((batch.count * batch.height * batch.width * 3) / 4);
  if (batch.data.size < needWords) {
    throw new Error(
      `${op}: image data has ${batch.data.size} words, ${batch.count} images of ${batch.height}×${batch.width} RGB need ${needWords}`,
    );
  }
  const s = options.size;
  if (!Number.isInteger(s) || s < 1) throw new Error(`${op}: size must be a positive integer, got ${s}`);
  const mean = options.mean ?? IMAGENET_MEAN;
  const std = options.std ?? IMAGENET_STD;
  checkChannels(op, 'mean', mean, false);
  checkChannels(op, 'std', std, true);
  if (!Array.isArray(params) || params.length === 0) throw new Error(`${op}: params must be a non-empty array of AugmentParams`);
  params.forEach((p, i) => checkParams(op, p, i, batch));

  const ctx = batch.data.ctx;
  ctx.throwIfFailed();
  const n = params.length;
  const packed = pack(params);
  const prm = fromBytes(packed.words, { ctx });
  const stats = empty([n], { ctx });
  const out = empty([n, 3, s, s], { ctx });
  const norm = { chMean: [...mean, 0], chStd: [...std, 1] };
  let scratch: Tensor | null = null;
  try {
    const src = bufferRange(batch.data);
    const sg = ctx.subgroupSize ?? 0;
    if (packed.statsList.length > 0) {
      ctx.run(spec(`stats${sg}`, () => augmentStatsKernel(sg)), [src, bufferRange(prm), bufferRange(stats)], {
        size: s,
        inH: batch.height,
        inW: batch.width,
        listOffset: packed.statsOffset,
        count: packed.statsList.length,
      });
    }
    const vec4 = s % 4 === 0;
    ctx.run(spec('main', augmentMainKernel), [src, bufferRange(prm), bufferRange(stats), bufferRange(out)], {
      n,
      size: s,
      inH: batch.height,
      inW: batch.width,
      groups: augmentMainGroups(s),
      ...norm,
    });
    if (packed.blurList.length > 0) {
      scratch = empty([n, 3, s, s], { ctx });
      const rows = packed.blurList.length * 3 * s;
      const u = { size: s, listOffset: packed.blurOffset, ...norm };
      const first = vec4 ? spec('blurRows', augmentBlurRowsKernel) : spec('blur', augmentBlurKernel);
      const second = vec4 ? spec('blurColumns', augmentBlurColumnsKernel) : spec('blur', augmentBlurKernel);
      ctx.run(first, [bufferRange(out), bufferRange(scratch), bufferRange(prm)], { ...u, lines: rows, dir: 0, normalize: 0 });
      ctx.run(second, [bufferRange(scratch), bufferRange(out), bufferRange(prm)], {
        ...u,
        lines: vec4 ? rows / 4 : rows,
        dir: 1,
        normalize: 1,
      });
    }
  } catch (error) {
    out.dispose();
    throw error;
  } finally {
    prm.dispose();
    stats.dispose();
    scratch?.dispose();
  }
  return out;
}
