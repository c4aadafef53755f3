// MoCo-v2 augmentation, the Gaussian blur passes: y = x ∗ g along one axis of each S×S plane,
// g_d = w_|d| for |d| ≤ r (weights and r from the image's record, see kernels/augment-common.ts:
// w_d ∝ exp(−d²/(2σ²)), r = ceil(3σ) ≤ 6, normalised to sum 1; w_d = 0 beyond r, so every kernel
// runs the full 13 taps). Two passes, along x into a scratch buffer, then along y back into the
// output, the second also normalising: (y − mean_c)/std_c. Only the images in the blur list (at
// listOffset in the parameter buffer) are touched. Layout: NCHW float32 planes [records, 3, S, S].
//
// Every kernel slides a register window along a "line" (T outputs per step, T + 2R = T + 12
// values held, T new values loaded per step: one load per output) and computes each output with
// 13 FMAs on registers, unrolled with constant register indices. Lines are taken in a grid-stride
// loop over a few workgroups of 64. Loads and stores cost per element on lavapipe, so the vec4
// kernels are used when S % 4 == 0 (rows and planes are then whole vec4s):
// - augmentBlurRowsKernel: a line is a row, read in vec4 chunks (positions 4k..4k+3), written as
//   vec4s; the 20-scalar window holds chunks k−2..k+2.
// - augmentBlurColumnsKernel: a line is a quad of 4 adjacent columns (a vec4) sliding down the
//   rows, T = 2 (more outputs per step spilled registers and ran slower).
// - augmentBlurKernel (any S): a line is one row (dir 0) or column (dir 1), scalars, T = 8.
//
// Edges: reflect padding (torch's 'reflect': index −1 reads 1, index S reads S − 2), extended
// periodically (period 2(S − 1)) when the radius reaches past the far edge of a small image, and
// index 0 for S = 1. Outputs past S in the last window are not stored.
import { AUG_FIELD, AUG_RECORD_WORDS, BLUR_MAX_RADIUS } from './augment-common';
import { bindingDecls, gridStride, paramsStruct, type KernelSpec, type UniformField } from './spec';

const WG = 64;
const MAX_GROUPS = 256;
const R = BLUR_MAX_RADIUS;
/** Outputs per window step: scalar lines, and vec4 column quads (fewer live registers). */
const SCALAR_T = 8;
const COLUMN_T = 2;

const REFLECT_WGSL = /* wgsl */ `
// Reflect index i into [0, n).
fn refl(i: i32, n: i32) -> u32 {
  if (i >= 0 && i < n) { return u32(i); }
  if (n == 1) { return 0u; }
  let period = 2 * (n - 1);
  var m = i % period;
  if (m < 0) { m += period; }
  return u32(select(m, period - m, m >= n));
}`;

/**
 * WGSL of the sliding window along positions 0..s−1 of one line: `load(pos)` reads the value at
 * an i32 position expression (reflected by the caller's expression), `store(posExpr, value)`
 * writes one output. Needs lets w0..wR, s (u32) in scope.
 */
function slidingWindow(T: number, load: (pos: string) => string, store: (pos: string, value: string) => string): string {
  const W = T + 2 * R;
  const init: string[] = [];
  for (let k = 0; k < W; k++) init.push(`    var v${k} = ${load(`${k - R}`)};`);
  const body: string[] = [];
  for (let j = 0; j < T; j++) {
    const terms = [`w0 * v${j + R}`];
    for (let d = 1; d <= R; d++) terms.push(`w${d} * (v${j + R - d} + v${j + R + d})`);
    body.push(`      if (pos + ${j}u < s) { ${store(`pos + ${j}u`, terms.join(' + '))} }`);
  }
  const shift: string[] = [];
  for (let k = 0; k < 2 * R; k++) shift.push(`        v${k} = v${k + T};`);
  for (let j = 0; j < T; j++) shift.push(`        v${2 * R + j} = ${load(`i32(pos) + ${T + R + j}`)};`);
  return `${init.join('\n')}
    for (var pos = 0u; pos < s; pos += ${T}u) {
${body.join('\n')}
      if (pos + ${T}u < s) {
${shift.join('\n')}
      }
    }`;
}

const WEIGHTS_WGSL = Array.from({ length: R + 1 }, (_, d) => `    let w${d} = bitcast<f32>(prm[wb + ${d}u]);`).join('\n');

function blurUniforms(): UniformField[] {
  return [
    { name: 'size', type: 'u32' },
    { name: 'lines', type: 'u32' },
    { name: 'listOffset', type: 'u32' },
    { name: 'dir', type: 'u32' },
    { name: 'normalize', type: 'u32' },
    { name: 'chMean', type: 'vec4<f32>' },
    { name: 'chStd', type: 'vec4<f32>' },
  ];
}

function blurSpec(key: string, name: string, code: string, bindings: { access: 'read' | 'read_write' }[], uniforms: UniformField[]): KernelSpec {
  return {
    key,
    name,
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => gridStride(Number(u.lines), WG, MAX_GROUPS),
  };
}

/**
 * Scalar lines, any S. Bindings: x (f32, read), y (f32, written), prm (u32 records + lists).
 * Uniforms: size (S), lines (listed images · 3 · S), listOffset, dir (0 rows, 1 columns),
 * normalize (1: write (y − mean)/std), chMean, chStd (vec4).
 */
export function augmentBlurKernel(): KernelSpec {
  const uniforms = blurUniforms();
  const bindings = [
    { name: 'x', access: 'read' as const },
    { name: 'y', access: 'read_write' as const },
    { name: 'prm', access: 'read' as const, type: 'array<u32>' },
  ];
  const window = slidingWindow(
    SCALAR_T,
    (pos) => `x[base + refl(${pos}, n) * sp]`,
    (pos, v) => `y[base + (${pos}) * sp] = finish(${v}, mu, sd);`,
  );
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
${REFLECT_WGSL}

fn finish(v: f32, mu: f32, sd: f32) -> f32 {
  return select(v, (v - mu) / sd, p.normalize == 1u);
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = p.size;
  let n = i32(s);
  let per_image = 3u * s;
  let sp = select(1u, s, p.dir == 1u);
  let st = select(s, 1u, p.dir == 1u);
  for (var line = gid.x; line < p.lines; line += groups.x * ${WG}u) {
    let e = line / per_image;
    let r = line - e * per_image;
    let c = r / s;
    let t = r - c * s;
    let img = prm[p.listOffset + e];
    let wb = img * ${AUG_RECORD_WORDS}u + ${AUG_FIELD.weights}u;
${WEIGHTS_WGSL}
    let mu = p.chMean[c];
    let sd = p.chStd[c];
    let base = (img * 3u + c) * s * s + t * st;
${window}
  }
}`;
  return blurSpec(`augmentBlur:${SCALAR_T}:${R}`, 'augment.blur', code, bindings, uniforms);
}

/**
 * vec4 quads of columns, S a multiple of 4: blurs along y (down the rows) and normalises when
 * `normalize` is 1. Bindings: x (vec4, read), y (vec4, written), prm (u32 records + lists).
 * Uniforms: as augmentBlurKernel, with lines = listed images · 3 · S/4 and dir unused.
 */
export function augmentBlurColumnsKernel(): KernelSpec {
  const uniforms = blurUniforms();
  const bindings = [
    { name: 'x', access: 'read' as const, type: 'array<vec4<f32>>' },
    { name: 'y', access: 'read_write' as const, type: 'array<vec4<f32>>' },
    { name: 'prm', access: 'read' as const, type: 'array<u32>' },
  ];
  const window = slidingWindow(
    COLUMN_T,
    (pos) => `x[base + refl(${pos}, n) * s4]`,
    (pos, v) => `y[base + (${pos}) * s4] = finish(${v}, mu, sd);`,
  );
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
${REFLECT_WGSL}

fn finish(v: vec4<f32>, mu: vec4<f32>, sd: vec4<f32>) -> vec4<f32> {
  return select(v, (v - mu) / sd, p.normalize == 1u);
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = p.size;
  let n = i32(s);
  let s4 = s / 4u;
  let per_image = 3u * s4;
  for (var line = gid.x; line < p.lines; line += groups.x * ${WG}u) {
    let e = line / per_image;
    let r = line - e * per_image;
    let c = r / s4;
    let qd = r - c * s4;
    let img = prm[p.listOffset + e];
    let wb = img * ${AUG_RECORD_WORDS}u + ${AUG_FIELD.weights}u;
${WEIGHTS_WGSL}
    let mu = vec4<f32>(p.chMean[c]);
    let sd = vec4<f32>(p.chStd[c]);
    let base = (img * 3u + c) * s4 * s + qd;
${window}
  }
}`;
  return blurSpec(`augmentBlurColumns:${COLUMN_T}:${R}`, 'augment.blurColumns', code, bindings, uniforms);
}

/**
 * Rows as vec4 chunks, S a multiple of 4: blurs along x. Chunk k holds positions 4k..4k+3; the
 * window holds chunks k−2..k+2 as 20 scalars (positions 4k−8..4k+11), one vec4 load per chunk
 * step; chunks outside the row are gathered from reflected positions with scalar reads.
 * Bindings: x (vec4, read), y (vec4, written), prm. Uniforms: as augmentBlurKernel, lines =
 * listed images · 3 · S; dir and normalize unused (never normalises).
 */
export function augmentBlurRowsKernel(): KernelSpec {
  const uniforms = blurUniforms();
  const bindings = [
    { name: 'x', access: 'read' as const, type: 'array<vec4<f32>>' },
    { name: 'y', access: 'read_write' as const, type: 'array<vec4<f32>>' },
    { name: 'prm', access: 'read' as const, type: 'array<u32>' },
  ];
  const init: string[] = [];
  for (let c = 0; c < 5; c++) {
    init.push(`    let c${c} = load_chunk(row, ${c - 2}, n);`);
    init.push(`    var v${4 * c} = c${c}.x; var v${4 * c + 1} = c${c}.y; var v${4 * c + 2} = c${c}.z; var v${4 * c + 3} = c${c}.w;`);
  }
  const outs: string[] = [];
  for (let j = 0; j < 4; j++) {
    const terms = [`w0 * v${8 + j}`];
    for (let d = 1; d <= R; d++) terms.push(`w${d} * (v${8 + j - d} + v${8 + j + d})`);
    outs.push(terms.join(' + '));
  }
  const shift: string[] = [];
  for (let k = 0; k < 16; k++) shift.push(`        v${k} = v${k + 4};`);
  shift.push('        let nc = load_chunk(row, i32(k) + 3, n);');
  shift.push('        v16 = nc.x; v17 = nc.y; v18 = nc.z; v19 = nc.w;');
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
${REFLECT_WGSL}

// Positions 4c..4c+3 of the row starting at vec4 index row (n values), reflected at the edges.
fn load_chunk(row: u32, c: i32, n: i32) -> vec4<f32> {
  if (c >= 0 && 4 * c + 3 < n) { return x[row + u32(c)]; }
  var v = vec4<f32>();
  for (var j = 0; j < 4; j++) {
    let at = refl(4 * c + j, n);
    v[j] = x[row + at / 4u][at % 4u];
  }
  return v;
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let s = p.size;
  let n = i32(s);
  let s4 = s / 4u;
  let per_image = 3u * s;
  for (var line = gid.x; line < p.lines; line += groups.x * ${WG}u) {
    let e = line / per_image;
    let r = line - e * per_image;
    let img = prm[p.listOffset + e];
    let wb = img * ${AUG_RECORD_WORDS}u + ${AUG_FIELD.weights}u;
${WEIGHTS_WGSL}
    let row = (img * 3u * s + r) * s4;
${init.join('\n')}
    for (var k = 0u; k < s4; k++) {
      y[row + k] = vec4<f32>(${outs.join(',\n        ')});
      if (k + 1u < s4) {
${shift.join('\n')}
      }
    }
  }
}`;
  return blurSpec(`augmentBlurRows:${R}`, 'augment.blurRows', code, bindings, uniforms);
}
