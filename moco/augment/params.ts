// Per-image parameters of MoCo v2's augmentation (moco `aug_plus`), drawn from a seeded Generator
// with torchvision 0.14's semantics, in the order torchvision draws them for one image:
//   RandomResizedCrop.get_params: up to 10 attempts of area = H·W·U(scale), log-ratio U(log ratio),
//     w = round(√(area·ratio)), h = round(√(area/ratio)) (Python's round: half to even); accepted when
//     0 < w ≤ W and 0 < h ≤ H, then top = randint(0, H − h + 1), left = randint(0, W − w + 1).
//     Fallback: a centred crop of the whole image clipped to the ratio range.
//   RandomApply(ColorJitter, p): applied when U ≤ p; then ColorJitter.get_params: randperm(4) (the
//     order of brightness, contrast, saturation, hue), then the factors in that fixed order:
//     brightness, contrast, saturation ∈ U[1 − s, 1 + s] (lower end at least 0), hue ∈ U[−h, h]
//     (an op of strength 0 draws nothing and does not run).
//   RandomGrayscale(p): applied when U < p.
//   RandomApply(GaussianBlur, p): applied when U ≤ p; σ = U[σmin, σmax].
//   RandomHorizontalFlip(p): applied when U < p.
import type { Generator } from '../../lib/index';

export type JitterOp = 'brightness' | 'contrast' | 'saturation' | 'hue';

/** torchvision ColorJitter's op indices 0..3 (the randperm(4) values). */
export const JITTER_OPS: readonly JitterOp[] = ['brightness', 'contrast', 'saturation', 'hue'];

export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

export interface JitterParams {
  /** The ops in the order they run (ColorJitter runs all four; tests may give fewer). */
  order: JitterOp[];
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

export interface AugmentParams {
  /** Index of the input image in the batch. */
  source: number;
  crop: CropBox;
  /** null when RandomApply skipped the jitter. */
  jitter: JitterParams | null;
  grayscale: boolean;
  /** Gaussian blur σ, or null for no blur. */
  blurSigma: number | null;
  flip: boolean;
}

export interface AugmentConfig {
  scale: [number, number];
  ratio: [number, number];
  /** ColorJitter strengths (brightness, contrast, saturation, hue). */
  jitter: { brightness: number; contrast: number; saturation: number; hue: number };
  jitterP: number;
  grayscaleP: number;
  blurP: number;
  blurSigma: [number, number];
  flipP: number;
}

/** MoCo v2's `aug_plus` pipeline (facebookresearch/moco main_moco.py). */
export const MOCO_V2_AUGMENT: AugmentConfig = {
  scale: [0.2, 1],
  ratio: [3 / 4, 4 / 3],
  jitter: { brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1 },
  jitterP: 0.8,
  grayscaleP: 0.2,
  blurP: 0.5,
  blurSigma: [0.1, 2],
  flipP: 0.5,
};

/** Python 3's round(): to the nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** RandomResizedCrop.get_params; `fallback` tells whether all 10 attempts failed. */
export function randomResizedCrop(
  g: Generator,
  height: number,
  width: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
): { box: CropBox; fallback: boolean } {
  const area = height * width;
  const logLow = Math.log(ratio[0]);
  const logHigh = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * g.uniformRange(scale[0], scale[1]);
    const aspect = Math.exp(g.uniformRange(logLow, logHigh));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = g.int(height - h + 1);
      const left = g.int(width - w + 1);
      return { box: { top, left, height: h, width: w }, fallback: false };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < Math.min(...ratio)) {
    h = roundHalfEven(w / Math.min(...ratio));
  } else if (inRatio > Math.max(...ratio)) {
    w = roundHalfEven(h * Math.max(...ratio));
  }
  return { box: { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w }, fallback: true };
}

/**
 * ColorJitter.get_params: the op order (randperm(4)), then the factors of the ops whose strength
 * is not 0, in the fixed order brightness, contrast, saturation, hue. An op of strength 0 is None
 * in torchvision: no number is drawn for it and it is left out of the order (its factor here is the
 * identity: 1, or 0 for hue).
 */
export function colorJitter(g: Generator, strength: AugmentConfig['jitter']): JitterParams {
  const perm = Array.from(g.permutation(4), (i) => JITTER_OPS[i]!);
  const factor = (s: number) => (s === 0 ? null : g.uniformRange(Math.max(0, 1 - s), 1 + s));
  const brightness = factor(strength.brightness);
  const contrast = factor(strength.contrast);
  const saturation = factor(strength.saturation);
  const hue = strength.hue === 0 ? null : g.uniformRange(-strength.hue, strength.hue);
  const drawn = { brightness, contrast, saturation, hue };
  return {
    order: perm.filter((op) => drawn[op] !== null),
    brightness: brightness ?? 1,
    contrast: contrast ?? 1,
    saturation: saturation ?? 1,
    hue: hue ?? 0,
  };
}

/** One image's parameters, drawn in torchvision's order. */
export function drawParams(
  g: Generator,
  source: number,
  height: number,
  width: number,
  config: AugmentConfig = MOCO_V2_AUGMENT,
): AugmentParams {
  const crop = randomResizedCrop(g, height, width, config.scale, config.ratio).box;
  const jitter = g.uniform() <= config.jitterP ? colorJitter(g, config.jitter) : null;
  const grayscale = g.uniform() < config.grayscaleP;
  const blurSigma = g.uniform() <= config.blurP ? g.uniformRange(config.blurSigma[0], config.blurSigma[1]) : null;
  const flip = g.uniform() < config.flipP;
  return { source, crop, jitter, grayscale, blurSigma, flip };
}

/** Parameters for one view of a batch: image k of the view reads source image k. */
export function drawBatchParams(
  g: Generator,
  count: number,
  height: number,
  width: number,
  config: AugmentConfig = MOCO_V2_AUGMENT,
): AugmentParams[] {
  return Array.from({ length: count }, (_, i) => drawParams(g, i, height, width, config));
}

/** Independent parameters for `views` views of a batch (MoCo's TwoCropsTransform: 2), view by view. */
export function drawViews(
  g: Generator,
  count: number,
  height: number,
  width: number,
  views = 2,
  config: AugmentConfig = MOCO_V2_AUGMENT,
): AugmentParams[][] {
  return Array.from({ length: views }, () => drawBatchParams(g, count, height, width, config));
}
