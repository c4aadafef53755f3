// MoCo-v2 augmentation, the per-pixel passes (the blur passes are in kernels/augment-blur.ts; the
// record layout, pixel fetch, sampling and jitter ops in kernels/augment-common.ts).
//
// For each output image i (a parameter record): RandomResizedCrop's crop box of source image
// `source`, resized bilinearly to S×S; ColorJitter's ops in the record's order on [0, 1] floats:
//   brightness b: clamp(b·x)            contrast c: clamp(c·x + (1 − c)·mean(gray(x)))
//   saturation s: clamp(s·x + (1 − s)·gray(x))    hue h: rotate the HSV hue by h (mod 1)
// (gray = 0.299 R + 0.587 G + 0.114 B; clamp to [0, 1]); grayscale (gray in all three channels);
// Gaussian blur (separable, the blur passes); horizontal flip; (x − mean_c)/std_c.
//
// augmentStats: the contrast mean. Contrast needs mean(gray) of the image as it is at contrast's
//   position in that image's order, so this pass samples every pixel, applies the ops before
//   contrast and sums gray: one workgroup per listed image (the list sits in the parameter buffer
//   at listOffset), one subgroup finished by subgroupAdd, or without subgroups a workgroup of 64
//   and a tree in workgroup memory. stats[i] = Σ gray / S². Images not listed are not written.
// augmentMain: every output pixel: sample, jitter ops (reading stats[i] for contrast), grayscale;
//   flip is applied by sampling column S − 1 − x (every later op commutes with it: the blur kernel
//   is symmetric and its reflect padding too). Images without blur are normalised and written as
//   final output; images with blur are written unnormalised to the same place for the blur passes.
//   Work: `groups` workgroups of 64 per image in a grid-stride loop over the image's S² pixels, so
//   each invocation reads its image's record once.
// Edges: samples are clamped inside the crop box (kernels/augment-common.ts); pixels past S² and
// workgroups past the last record or list entry do nothing. The contrast sum is float32, in one
// partial sum per invocation. Output layout: NCHW float32 [records, 3, S, S]. Grids fold past
// 65535 workgroups into y.
import { AUG_FLAG, AUG_JITTER_WGSL, AUG_RECORD_WGSL, AUG_SAMPLE_WGSL } from './augment-common';
import { rowDispatch } from './rows';
import { bindingDecls, paramsStruct, type KernelSpec, type UniformField } from './spec';

const MAIN_WG = 64;

/**
 * Contrast means. Bindings: src (u32 pixels), prm (u32 records + lists), stats (f32, written).
 * Uniforms: size (S), inH, inW, listOffset, count (listed images). `subgroupSize` 0: no subgroups.
 */
export function augmentStatsKernel(subgroupSize: number): KernelSpec {
  const wg = subgroupSize || 64;
  const uniforms: UniformField[] = [
    { name: 'size', type: 'u32' },
    { name: 'inH', type: 'u32' },
    { name: 'inW', type: 'u32' },
    { name: 'listOffset', type: 'u32' },
    { name: 'count', type: 'u32' },
  ];
  const bindings = [
    { name: 'src', access: 'read' as const, type: 'array<u32>' },
    { name: 'prm', access: 'read' as const, type: 'array<u32>' },
    { name: 'stats', access: 'read_write' as const },
  ];
  const finish =
    subgroupSize > 0
      ? /* wgsl */ `
  let total = subgroupAdd(acc);
  if (lid.x == 0u) { stats[img] = total / f32(n); }`
      : /* wgsl */ `
  partial[lid.x] = acc;
  workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s >>= 1u) {
    if (lid.x < s) { partial[lid.x] = partial[lid.x] + partial[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { stats[img] = partial[0] / f32(n); }`;
  const code = /* wgsl */ `
${subgroupSize > 0 ? 'enable subgroups;' : ''}
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
${subgroupSize > 0 ? '' : `var<workgroup> partial: array<f32, ${wg}>;`}
${AUG_RECORD_WGSL}
${AUG_SAMPLE_WGSL}
${AUG_JITTER_WGSL}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let k = wid.y * groups.x + wid.x;
  if (k >= p.count) { return; }
  let img = prm[p.listOffset + k];
  let a = load_aug(img);
  let before = min(contrast_pos(a), op_count(a));
  let s = p.size;
  let n = s * s;
  let last = arrayLength(&src) - 1u;
  var acc = 0.0;
  for (var q = lid.x; q < n; q += ${wg}u) {
    let xy = split_index(q, s);
    var c = sample_crop(a, xy.x, xy.y, s, p.inH, p.inW, last);
    for (var j = 0u; j < before; j++) { c = jitter_op(op_at(a, j), c, a.factors, 0.0); }
    acc += dot(c, GRAY);
  }
${finish}
}`;
  return {
    key: `augmentStats:${subgroupSize}`,
    name: 'augment.stats',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    requires: subgroupSize > 0 ? ['subgroups'] : [],
    dispatch: (u) => rowDispatch(Number(u.count)),
  };
}

/**
 * Crop, jitter, grayscale, flip; normalise unless the image is blurred.
 * Bindings: src (u32 pixels), prm (u32 records), stats (f32 contrast means), out (f32 NCHW).
 * Uniforms: n (records), size (S), inH, inW, groups (workgroups per image), chMean, chStd (vec4, RGB + unused).
 */
export function augmentMainKernel(): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'n', type: 'u32' },
    { name: 'size', type: 'u32' },
    { name: 'inH', type: 'u32' },
    { name: 'inW', type: 'u32' },
    { name: 'groups', type: 'u32' },
    { name: 'chMean', type: 'vec4<f32>' },
    { name: 'chStd', type: 'vec4<f32>' },
  ];
  const bindings = [
    { name: 'src', access: 'read' as const, type: 'array<u32>' },
    { name: 'prm', access: 'read' as const, type: 'array<u32>' },
    { name: 'stats', access: 'read' as const },
    { name: 'out', access: 'read_write' as const },
  ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
${AUG_RECORD_WGSL}
${AUG_SAMPLE_WGSL}
${AUG_JITTER_WGSL}

@compute @workgroup_size(${MAIN_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let k = wid.y * groups.x + wid.x;
  let img = k / p.groups;
  let part = k - img * p.groups;
  if (img >= p.n) { return; }
  let a = load_aug(img);
  let m = stats[img];
  let nops = op_count(a);
  let gray = (a.flags & ${AUG_FLAG.grayscale}u) != 0u;
  let flip = (a.flags & ${AUG_FLAG.flip}u) != 0u;
  let blur = (a.flags & ${AUG_FLAG.blur}u) != 0u;
  let s = p.size;
  let n = s * s;
  let base = img * 3u * n;
  let last = arrayLength(&src) - 1u;
  for (var q = part * ${MAIN_WG}u + lid.x; q < n; q += p.groups * ${MAIN_WG}u) {
    let xy = split_index(q, s);
    let x = select(xy.x, s - 1u - xy.x, flip);
    var c = sample_crop(a, x, xy.y, s, p.inH, p.inW, last);
    for (var j = 0u; j < nops; j++) { c = jitter_op(op_at(a, j), c, a.factors, m); }
    if (gray) { c = vec3<f32>(dot(c, GRAY)); }
    if (!blur) { c = (c - p.chMean.xyz) / p.chStd.xyz; }
    out[base + q] = c.x;
    out[base + n + q] = c.y;
    out[base + 2u * n + q] = c.z;
  }
}`;
  return {
    key: 'augmentMain',
    name: 'augment.main',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => rowDispatch(Number(u.n) * Number(u.groups)),
  };
}

/** Workgroups per image for augmentMain: about 64 pixels per invocation, at most 64 groups. */
export function augmentMainGroups(size: number): number {
  return Math.max(1, Math.min(64, Math.ceil((size * size) / (MAIN_WG * 64))));
}
