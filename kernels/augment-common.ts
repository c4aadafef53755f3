// Shared pieces of the MoCo-v2 augmentation kernels (kernels/augment.ts, kernels/augment-blur.ts):
// the layout of the per-image parameter record and the WGSL that reads it, fetches packed uint8
// pixels, samples the crop box bilinearly and applies one ColorJitter op.
//
// Parameter buffer (array<u32>, one record of AUG_RECORD_WORDS words per output image, then the
// index lists the stats and blur passes walk):
//   word 0       source image index in the input batch
//   words 1..4   crop box top, left, height, width (input pixels, integers)
//   word 5       jitter order: op code of position k in bits 4k..4k+3 (0 brightness, 1 contrast,
//                2 saturation, 3 hue), the op count in bits 16..19, the position of contrast in
//                bits 20..23 (15 when contrast is absent)
//   word 6       flags: bit 0 grayscale, bit 1 horizontal flip, bit 2 Gaussian blur
//   words 8..11  brightness, contrast, saturation, hue factors (f32 bits)
//   word 12      blur radius r (u32)
//   words 16..22 normalised blur weights w_0..w_6 (f32 bits; w_d = 0 for d > r)
//
// Input pixels: packed uint8 RGB, HWC, image after image, read as array<u32> (4 bytes a word,
// little-endian). Two horizontally adjacent pixels are 6 bytes, which always lie in 3 words.
//
// Sampling (torch.nn.functional.interpolate, bilinear, align_corners=False, no antialias, on the
// cropped image): output pixel (x, y) of an S×S output reads crop coordinates
// sx = max((x + 0.5)·w/S − 0.5, 0), x0 = floor(sx), x1 = min(x0 + 1, w − 1), λx = sx − x0 (same in y),
// so samples are clamped to the crop box's edge pixels and never read outside the box.

/** Words per image record in the parameter buffer. */
export const AUG_RECORD_WORDS = 24;

/** Word offsets inside a record. */
export const AUG_FIELD = {
  source: 0,
  top: 1,
  left: 2,
  height: 3,
  width: 4,
  order: 5,
  flags: 6,
  brightness: 8,
  contrast: 9,
  saturation: 10,
  hue: 11,
  radius: 12,
  weights: 16,
} as const;

export const AUG_FLAG = { grayscale: 1, flip: 2, blur: 4 } as const;

/** Jitter op codes, as stored in the order word. */
export const JITTER_CODE = { brightness: 0, contrast: 1, saturation: 2, hue: 3 } as const;

/** Largest blur radius the kernels handle (σ ≤ 2 with radius ceil(3σ)). */
export const BLUR_MAX_RADIUS = 6;

/** Luma weights of grayscale and of the gray image used by contrast and saturation. */
export const GRAY_WEIGHTS = [0.299, 0.587, 0.114] as const;

/** WGSL: the record reader. Needs a binding `prm: array<u32>`. */
export const AUG_RECORD_WGSL = /* wgsl */ `
const REC = ${AUG_RECORD_WORDS}u;
const GRAY = vec3<f32>(${GRAY_WEIGHTS.join(', ')});

struct Aug {
  source: u32,
  top: u32,
  left: u32,
  h: u32,
  w: u32,
  order: u32,
  flags: u32,
  factors: vec4<f32>,
}

fn load_aug(i: u32) -> Aug {
  let b = i * REC;
  return Aug(prm[b + ${AUG_FIELD.source}u], prm[b + ${AUG_FIELD.top}u], prm[b + ${AUG_FIELD.left}u],
             prm[b + ${AUG_FIELD.height}u], prm[b + ${AUG_FIELD.width}u], prm[b + ${AUG_FIELD.order}u],
             prm[b + ${AUG_FIELD.flags}u],
             vec4<f32>(bitcast<f32>(prm[b + ${AUG_FIELD.brightness}u]), bitcast<f32>(prm[b + ${AUG_FIELD.contrast}u]),
                       bitcast<f32>(prm[b + ${AUG_FIELD.saturation}u]), bitcast<f32>(prm[b + ${AUG_FIELD.hue}u])));
}

fn op_count(a: Aug) -> u32 { return (a.order >> 16u) & 15u; }
fn contrast_pos(a: Aug) -> u32 { return (a.order >> 20u) & 15u; }
fn op_at(a: Aug, k: u32) -> u32 { return (a.order >> (4u * k)) & 15u; }

// Row and column of flat index q in rows of length s, by float division: integer division is not
// vectorised on lavapipe, and (q + 0.5)/s is exact enough for q < 2^22.
fn split_index(q: u32, s: u32) -> vec2<u32> {
  let y = u32((f32(q) + 0.5) / f32(s));
  return vec2<u32>(q - y * s, y);
}`;

/** WGSL: pixel fetch and bilinear sampling. Needs a binding `src: array<u32>` and AUG_RECORD_WGSL. */
export const AUG_SAMPLE_WGSL = /* wgsl */ `
struct PixelPair { a: vec3<f32>, b: vec3<f32> }

// Pixels pix and pix + 1 (bytes 3·pix .. 3·pix + 5) as floats in [0, 1]. Word indices past the
// buffer are clamped; such bytes only belong to a second pixel the caller discards.
fn load_pair(pix: u32, last: u32) -> PixelPair {
  let byte = pix * 3u;
  let w = byte >> 2u;
  let s = (byte & 3u) * 8u;
  let a = src[w];
  let b = src[min(w + 1u, last)];
  let c = src[min(w + 2u, last)];
  let lo = select((a >> s) | (b << (32u - s)), a, s == 0u);
  let hi = select((b >> s) | (c << (32u - s)), b, s == 0u);
  let l = unpack4x8unorm(lo);
  let h = unpack4x8unorm(hi);
  return PixelPair(l.xyz, vec3<f32>(l.w, h.x, h.y));
}

// Bilinear sample of crop box a at output pixel (x, y) of an s×s output; the input is in_h×in_w.
fn sample_crop(a: Aug, x: u32, y: u32, s: u32, in_h: u32, in_w: u32, last: u32) -> vec3<f32> {
  let fs = f32(s);
  let sy = max((f32(y) + 0.5) * (f32(a.h) / fs) - 0.5, 0.0);
  let sx = max((f32(x) + 0.5) * (f32(a.w) / fs) - 0.5, 0.0);
  let y0 = min(u32(sy), a.h - 1u);
  let x0 = min(u32(sx), a.w - 1u);
  let ly = sy - f32(y0);
  let lx = sx - f32(x0);
  let y1 = min(y0 + 1u, a.h - 1u);
  let single = x0 + 1u >= a.w;
  let row0 = (a.source * in_h + a.top + y0) * in_w + a.left + x0;
  let row1 = (a.source * in_h + a.top + y1) * in_w + a.left + x0;
  let p0 = load_pair(row0, last);
  let p1 = load_pair(row1, last);
  let top = mix(p0.a, select(p0.b, p0.a, single), lx);
  let bottom = mix(p1.a, select(p1.b, p1.a, single), lx);
  return mix(top, bottom, ly);
}`;

/** WGSL: the four ColorJitter ops (torchvision's tensor functional ops on [0, 1] floats). */
export const AUG_JITTER_WGSL = /* wgsl */ `
fn blend(a: vec3<f32>, b: vec3<f32>, ratio: f32) -> vec3<f32> {
  return clamp(ratio * a + (1.0 - ratio) * b, vec3<f32>(0.0), vec3<f32>(1.0));
}

// torchvision _rgb2hsv, shift h by f modulo 1, _hsv2rgb; written with selects, not branches or
// integer modulo (both are slow on lavapipe's SIMD lanes).
fn adjust_hue(c: vec3<f32>, f: f32) -> vec3<f32> {
  let maxc = max(c.x, max(c.y, c.z));
  let minc = min(c.x, min(c.y, c.z));
  let eqc = maxc == minc;
  let cr = maxc - minc;
  let s = cr / select(maxc, 1.0, eqc);
  let crd = select(cr, 1.0, eqc);
  let rc = (maxc - c.x) / crd;
  let gc = (maxc - c.y) / crd;
  let bc = (maxc - c.z) / crd;
  let hr = bc - gc;
  let hg = 2.0 + rc - bc;
  let hb = 4.0 + gc - rc;
  var h = select(select(hb, hg, maxc == c.y), hr, maxc == c.x);
  h = fract(h / 6.0 + 1.0);
  h = h + f;
  h = h - floor(h);
  let v = maxc;
  let h6 = h * 6.0;
  let fi = floor(h6);
  let fr = h6 - fi;
  let i = select(fi, 0.0, fi >= 6.0);
  let p = clamp(v * (1.0 - s), 0.0, 1.0);
  let q = clamp(v * (1.0 - s * fr), 0.0, 1.0);
  let t = clamp(v * (1.0 - s * (1.0 - fr)), 0.0, 1.0);
  // Sector i: (R, G, B) = (v,t,p) (q,v,p) (p,v,t) (p,q,v) (t,p,v) (v,p,q).
  let r = select(select(select(v, t, i == 4.0), p, i == 2.0 || i == 3.0), select(v, q, i == 1.0), i < 2.0);
  let g = select(select(p, q, i == 3.0), select(t, v, i >= 1.0), i < 3.0);
  let b = select(select(q, v, i < 5.0), select(p, t, i == 2.0), i < 3.0);
  return vec3<f32>(r, g, b);
}

// One jitter op: 0 brightness, 1 contrast (m = mean gray of the current image), 2 saturation, 3 hue.
fn jitter_op(code: u32, c: vec3<f32>, f: vec4<f32>, m: f32) -> vec3<f32> {
  switch code {
    case 0u: { return blend(c, vec3<f32>(0.0), f.x); }
    case 1u: { return blend(c, vec3<f32>(m), f.y); }
    case 2u: { return blend(c, vec3<f32>(dot(c, GRAY)), f.z); }
    default: { return adjust_hue(c, f.w); }
  }
}`;
