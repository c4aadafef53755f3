// Float64 CPU reference of the MoCo-v2 augmentation, one image at a time, from the same parameters
// as the GPU op (moco/augment/pipeline.ts), written as directly as torchvision 0.14's tensor
// functional ops, in the pipeline's order:
//   crop + resize: crop the box, then bilinear interpolation (align_corners=False, no antialias):
//     src = max((dst + 0.5)·in/out − 0.5, 0), i0 = floor(src), i1 = i0 + 1 unless i0 is the last.
//   ColorJitter ops in the given order (_blend = clamp(r·a + (1 − r)·b, 0, 1)), grayscale,
//   Gaussian blur (radius ceil(3σ), weights exp(−d²/2σ²) normalised, reflect padding extended
//   periodically for radii past a small image's edge), horizontal flip, (x − mean)/std.
// Gray is 0.299 R + 0.587 G + 0.114 B (PIL's luma; torchvision's tensor op uses 0.2989 for R).
import type { AugmentParams, JitterOp } from './params';

/** A CHW float64 image. */
export interface RefImage {
  data: Float64Array;
  height: number;
  width: number;
}

const GRAY = [0.299, 0.587, 0.114];

function planeOf(img: RefImage, c: number): Float64Array {
  const n = img.height * img.width;
  return img.data.subarray(c * n, (c + 1) * n);
}

function mapPixels(img: RefImage, f: (r: number, g: number, b: number) => [number, number, number]): RefImage {
  const n = img.height * img.width;
  const out = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) {
    const [r, g, b] = f(img.data[i]!, img.data[n + i]!, img.data[2 * n + i]!);
    out[i] = r;
    out[n + i] = g;
    out[2 * n + i] = b;
  }
  return { data: out, height: img.height, width: img.width };
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
const gray = (r: number, g: number, b: number) => GRAY[0]! * r + GRAY[1]! * g + GRAY[2]! * b;

/** Image `index` of a packed uint8 RGB HWC batch as CHW floats in [0, 1]. */
export function imageFromBytes(bytes: Uint8Array, index: number, height: number, width: number): RefImage {
  const n = height * width;
  const data = new Float64Array(3 * n);
  const base = index * n * 3;
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) data[c * n + i] = bytes[base + 3 * i + c]! / 255;
  return { data, height, width };
}

/** Crops rows top..top+h−1, columns left..left+w−1. */
export function crop(img: RefImage, top: number, left: number, h: number, w: number): RefImage {
  const data = new Float64Array(3 * h * w);
  for (let c = 0; c < 3; c++) {
    const p = planeOf(img, c);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[(c * h + y) * w + x] = p[(top + y) * img.width + left + x]!;
  }
  return { data, height: h, width: w };
}

function sourceIndex(dst: number, inSize: number, outSize: number): [number, number, number] {
  const src = Math.max((dst + 0.5) * (inSize / outSize) - 0.5, 0);
  const i0 = Math.floor(src);
  const i1 = i0 < inSize - 1 ? i0 + 1 : i0;
  return [i0, i1, src - i0];
}

/** Bilinear resize to outH×outW (torch interpolate, align_corners=False, antialias=False). */
export function resizeBilinear(img: RefImage, outH: number, outW: number): RefImage {
  const data = new Float64Array(3 * outH * outW);
  for (let c = 0; c < 3; c++) {
    const p = planeOf(img, c);
    for (let y = 0; y < outH; y++) {
      const [y0, y1, ly] = sourceIndex(y, img.height, outH);
      for (let x = 0; x < outW; x++) {
        const [x0, x1, lx] = sourceIndex(x, img.width, outW);
        const at = (yy: number, xx: number) => p[yy * img.width + xx]!;
        data[(c * outH + y) * outW + x] =
          (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) + ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
      }
    }
  }
  return { data, height: outH, width: outW };
}

export function adjustBrightness(img: RefImage, f: number): RefImage {
  return mapPixels(img, (r, g, b) => [clamp01(f * r), clamp01(f * g), clamp01(f * b)]);
}

export function adjustContrast(img: RefImage, f: number): RefImage {
  const n = img.height * img.width;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += gray(img.data[i]!, img.data[n + i]!, img.data[2 * n + i]!);
  const m = sum / n;
  return mapPixels(img, (r, g, b) => [clamp01(f * r + (1 - f) * m), clamp01(f * g + (1 - f) * m), clamp01(f * b + (1 - f) * m)]);
}

export function adjustSaturation(img: RefImage, f: number): RefImage {
  return mapPixels(img, (r, g, b) => {
    const l = gray(r, g, b);
    return [clamp01(f * r + (1 - f) * l), clamp01(f * g + (1 - f) * l), clamp01(f * b + (1 - f) * l)];
  });
}

/** torchvision _rgb2hsv for one pixel. */
export function rgbToHsv(r: number, g: number, b: number): [number, number, number] {
  const maxc = Math.max(r, g, b);
  const minc = Math.min(r, g, b);
  const eqc = maxc === minc;
  const cr = maxc - minc;
  const s = cr / (eqc ? 1 : maxc);
  const crd = eqc ? 1 : cr;
  const rc = (maxc - r) / crd;
  const gc = (maxc - g) / crd;
  const bc = (maxc - b) / crd;
  const hr = maxc === r ? bc - gc : 0;
  const hg = maxc === g && maxc !== r ? 2 + rc - bc : 0;
  const hb = maxc !== g && maxc !== r ? 4 + gc - rc : 0;
  const h = ((hr + hg + hb) / 6 + 1) % 1; // torch.fmod of a positive number
  return [h, s, maxc];
}

/** torchvision _hsv2rgb for one pixel. */
export function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const i0 = Math.floor(h * 6);
  const f = h * 6 - i0;
  const p = clamp01(v * (1 - s));
  const q = clamp01(v * (1 - s * f));
  const t = clamp01(v * (1 - s * (1 - f)));
  const i = ((i0 % 6) + 6) % 6;
  const table: [number, number, number][] = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ];
  return table[i]!;
}

export function adjustHue(img: RefImage, f: number): RefImage {
  return mapPixels(img, (r, g, b) => {
    const [h, s, v] = rgbToHsv(r, g, b);
    const shifted = h + f - Math.floor(h + f); // Python's (h + f) % 1.0
    return hsvToRgb(shifted, s, v);
  });
}

export function adjust(img: RefImage, op: JitterOp, factor: number): RefImage {
  switch (op) {
    case 'brightness':
      return adjustBrightness(img, factor);
    case 'contrast':
      return adjustContrast(img, factor);
    case 'saturation':
      return adjustSaturation(img, factor);
    case 'hue':
      return adjustHue(img, factor);
  }
}

export function toGrayscale(img: RefImage): RefImage {
  return mapPixels(img, (r, g, b) => {
    const l = gray(r, g, b);
    return [l, l, l];
  });
}

/** Reflect index i into [0, n) (torch 'reflect', repeated for |pad| ≥ n). */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = ((i % period) + period) % period;
  if (m >= n) m = period - m;
  return m;
}

/** Separable Gaussian blur, radius ceil(3σ), reflect padding. */
export function gaussianBlur(img: RefImage, sigma: number): RefImage {
  const r = Math.ceil(3 * sigma);
  const kernel = Array.from({ length: 2 * r + 1 }, (_, k) => Math.exp(-0.5 * ((k - r) / sigma) ** 2));
  const total = kernel.reduce((a, b) => a + b, 0);
  const w = kernel.map((v) => v / total);
  const { height: h, width: wd } = img;
  const rows = new Float64Array(img.data.length);
  const out = new Float64Array(img.data.length);
  for (let c = 0; c < 3; c++) {
    const o = c * h * wd;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < wd; x++) {
        let acc = 0;
        for (let k = -r; k <= r; k++) acc += w[k + r]! * img.data[o + y * wd + reflectIndex(x + k, wd)]!;
        rows[o + y * wd + x] = acc;
      }
    }
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < wd; x++) {
        let acc = 0;
        for (let k = -r; k <= r; k++) acc += w[k + r]! * rows[o + reflectIndex(y + k, h) * wd + x]!;
        out[o + y * wd + x] = acc;
      }
    }
  }
  return { data: out, height: h, width: wd };
}

export function flipHorizontal(img: RefImage): RefImage {
  const { height: h, width: w } = img;
  const out = new Float64Array(img.data.length);
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(c * h + y) * w + x] = img.data[(c * h + y) * w + (w - 1 - x)]!;
  }
  return { data: out, height: h, width: w };
}

export function normalize(img: RefImage, mean: readonly number[], std: readonly number[]): RefImage {
  return mapPixels(img, (r, g, b) => [(r - mean[0]!) / std[0]!, (g - mean[1]!) / std[1]!, (b - mean[2]!) / std[2]!]);
}

/** The whole pipeline for one output image, unnormalised when mean/std are omitted. */
export function referenceImage(
  bytes: Uint8Array,
  batch: { count: number; height: number; width: number },
  p: AugmentParams,
  size: number,
  mean?: readonly number[],
  std?: readonly number[],
): RefImage {
  const source = imageFromBytes(bytes, p.source, batch.height, batch.width);
  let img = resizeBilinear(crop(source, p.crop.top, p.crop.left, p.crop.height, p.crop.width), size, size);
  if (p.jitter) for (const op of p.jitter.order) img = adjust(img, op, p.jitter[op]);
  if (p.grayscale) img = toGrayscale(img);
  if (p.blurSigma !== null) img = gaussianBlur(img, p.blurSigma);
  if (p.flip) img = flipHorizontal(img);
  return mean && std ? normalize(img, mean, std) : img;
}

/** The pipeline for every params entry: [params.length, 3, size, size] in float64. */
export function referenceAugment(
  bytes: Uint8Array,
  batch: { count: number; height: number; width: number },
  params: readonly AugmentParams[],
  size: number,
  mean: readonly number[],
  std: readonly number[],
): Float64Array {
  const n = 3 * size * size;
  const out = new Float64Array(params.length * n);
  params.forEach((p, i) => out.set(referenceImage(bytes, batch, p, size, mean, std).data, i * n));
  return out;
}
