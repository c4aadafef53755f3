// Shared pieces of the BatchNorm2d kernels (kernels/batchnorm.ts: forward, kernels/batchnorm-backward.ts).
//
// Math, per channel c and group g (the G groups are consecutive runs of Ng = N/G samples; eval
// mode uses G = 1 and the running stats):
//   μ, var (biased) over the M = Ng·H·W values of (g, c);  σ⁻¹ = 1/sqrt(var + eps)
//   y = relu?( x·scale + shift + residual? ),  scale = γ·σ⁻¹,  shift = β − μ·scale
//   running = (1 − m)·running + m·avg_g(stat_g), with the unbiased variance var·M/(M − 1)
//   backward (gz = gy masked by y > 0 when relu; it is also the residual's gradient):
//     Sdy = Σ gz,  T = σ⁻¹·Σ gz·(x − μ);  dβ = Σ_g Sdy,  dγ = Σ_g T
//     dx = scale·gz + bx·(x − μ) + c0,  bx = −scale·σ⁻¹·T/M,  c0 = −scale·Sdy/M   (eval: bx = c0 = 0)
//
// Layout: x is contiguous NCHW, so the data of (g, c) is Ng blocks of H·W contiguous floats, C·H·W
// apart. Every kernel works in "units" of vec4 when H·W % 4 == 0 (a vec4 never straddles two
// blocks) and of single floats otherwise; `hw` is the block length in units.
// - coef [4, G, C]: sections scale | shift | μ | σ⁻¹ (written by stats or evalCoef, read by apply
//   and by the backward).
// - dcoef [G, C] of vec4 (scale, bx, c0, μ): written by the backward reduction, read by the
//   backward apply (one vec4 load per block instead of four scalars).
//
// Work layout:
// - Reductions (stats, backward reduce): each channel is reduced by one subgroup (workgroup =
//   subgroup, finished by subgroupAdd) or, without subgroups, by one invocation (workgroups of 8
//   channels, no barriers). It walks the channel's G groups in turn, so it can also average them
//   for the running stats (no combine pass). The lanes of a channel walk the flattened (sample,
//   unit) index of the group, so short blocks (H·W of 1 or 16) keep every lane busy; the (sample,
//   unit) pair advances by carries, never by division. The variance is accumulated around a shift
//   K (the mean of the group's first 8 units): var = E[(x−K)²] − E[x−K]², accurate for data with a
//   large mean.
// - Elementwise passes (apply, backward apply): see `ApplyLayout` below; both load a block's
//   coefficients once per run of units.
//
// Edges: loops stop at the group / tensor end, so any N, C, H, W works; channels beyond 65535
// workgroups fold into the y dimension of the grid. Buffers are padded to 16 bytes
// (lib/storage.ts), so vec4 access of the tail is safe; the op ensures M > 1 in training mode.
import { rowDispatch } from './rows';
import { gridStride, type Access, type UniformField, type UniformValues, type Workgroups } from './spec';

/** Workgroups of the elementwise passes (few large workgroups are fastest on lavapipe). */
export const APPLY_WG = 64;
export const APPLY_MAX_GROUPS = 32;

export type Binding = { name: string; access: Access; type?: string };

export function unitType(vec4: boolean): string {
  return vec4 ? 'vec4<f32>' : 'f32';
}

export function arrayOf(vec4: boolean): string {
  return `array<${unitType(vec4)}>`;
}

/** Sum of the components of a unit. */
export function hsum(vec4: boolean, v: string): string {
  return vec4 ? `dot(${v}, vec4<f32>(1.0))` : v;
}

/** Channels per workgroup of the reductions without subgroups (one invocation per channel). */
const SERIAL_WG = 8;

/** Lanes that share one channel in the reductions: the subgroup, or 1 without subgroups. */
export function reduceLanes(subgroupSize: number): number {
  return subgroupSize || 1;
}

export function reduceWorkgroupSize(subgroupSize: number): number {
  return subgroupSize || SERIAL_WG;
}

/** One workgroup per channel (or per SERIAL_WG channels), folded into y past 65535 (see rowDispatch). */
export function reduceDispatch(subgroupSize: number, c: number): Workgroups {
  return rowDispatch(subgroupSize ? c : Math.ceil(c / SERIAL_WG));
}

/**
 * WGSL of `fn reduce2(v) -> vec2<f32>`: the sum of v over the lanes of a channel (every lane gets
 * it). With subgroups, subgroupAdd (call in uniform control flow); without, a channel has one
 * lane and it is v itself (a workgroup-memory tree with barriers measured 2–6× slower on lavapipe).
 */
export function reduce2(subgroupSize: number): string {
  return subgroupSize > 0
    ? 'fn reduce2(v: vec2<f32>) -> vec2<f32> { return subgroupAdd(v); }'
    : 'fn reduce2(v: vec2<f32>) -> vec2<f32> { return v; }';
}

/**
 * WGSL that walks the units of group g of channel c: declares `off` (the unit index) and runs
 * `body` once per unit, lanes interleaved over the flattened (sample, unit) index.
 */
export function groupWalk(body: string): string {
  return /* wgsl */ `
    var n = n0;
    var i = i0;
    var off = base + n0 * blockStride + i0;
    loop {
      if (n >= NG) { break; }
      ${body}
      n += stepN;
      i += stepI;
      off += jump;
      if (i >= HW) { i -= HW; n += 1u; off += wrap; }
    }`;
}

/**
 * Shared prologue of the per-channel reductions: the sizes copied out of the uniform buffer (a
 * load from it costs as much as a storage load, and the compiler cannot hoist it past our
 * stores), the channel index and lane, and the lane's walk steps.
 */
export function reducePrologue(subgroupSize: number): string {
  const lanes = reduceLanes(subgroupSize);
  const channel =
    subgroupSize > 0
      ? 'let c = wid.y * nwg.x + wid.x;\n  let lane = lid.x;'
      : `let c = (wid.y * nwg.x + wid.x) * ${SERIAL_WG}u + lid.x;\n  let lane = 0u;`;
  return /* wgsl */ `
  let C = p.c;
  let NG = p.ng;
  let HW = p.hw;
  let G = p.groups;
  let M = p.count;
  ${channel}
  if (c >= C) { return; }
  let blockStride = C * HW;
  let stepN = ${lanes}u / HW;
  let stepI = ${lanes}u % HW;
  let jump = stepN * blockStride + stepI;
  let wrap = blockStride - HW;
  let n0 = lane / HW;
  let i0 = lane % HW;
  let GC = G * C;`;
}

export const reduceUniforms: UniformField[] = [
  { name: 'c', type: 'u32' },
  { name: 'ng', type: 'u32' },
  { name: 'groups', type: 'u32' },
  { name: 'hw', type: 'u32' }, // block length in units
  { name: 'count', type: 'f32' }, // M = ng · H · W
];

export const applyUniforms: UniformField[] = [
  { name: 'c', type: 'u32' },
  { name: 'ng', type: 'u32' },
  { name: 'groups', type: 'u32' },
  { name: 'hw', type: 'u32' }, // block length in units
  { name: 'total', type: 'u32' }, // N · C · hw units
];

/**
 * Work layout of the elementwise passes, chosen by block length (both load each block's
 * coefficients once per run of units instead of once per unit):
 * - 'rows' (short blocks, hw ≤ ROWS_MAX_HW units): one invocation per (n, c) block, walking it
 *   in order; blocks are spread over a few workgroups in a grid-stride loop.
 * - 'chunks' (long blocks): each workgroup takes one contiguous chunk of the tensor, its 64 lanes
 *   interleaved; a lane steps 64 units at a time and reloads the coefficients only when it has
 *   crossed into another block (its (group, sample, channel, unit) digits advance by carries).
 */
export type ApplyLayout = 'rows' | 'chunks';
export const ROWS_MAX_HW = 64;

export function applyLayout(hwUnits: number): ApplyLayout {
  return hwUnits <= ROWS_MAX_HW ? 'rows' : 'chunks';
}

export function applyDispatch(layout: ApplyLayout, u: UniformValues): Workgroups {
  const total = Number(u.total);
  const work = layout === 'rows' ? total / Math.max(1, Number(u.hw)) : total / 4;
  return gridStride(work, APPLY_WG, APPLY_MAX_GROUPS);
}

/**
 * WGSL body of main() for an elementwise pass. `load` assigns the block's coefficients from index
 * `gc` (group · C + channel); `body` handles unit `e`.
 */
export function applyLoop(layout: ApplyLayout, load: string, body: string): string {
  const sizes = /* wgsl */ `
  // Sizes copied out of the uniform buffer once (see reducePrologue).
  let C = p.c;
  let NG = p.ng;
  let HW = p.hw;
  let total = p.total;
  let GC = p.groups * C;`;
  if (layout === 'rows') {
    return /* wgsl */ `${sizes}
  let blocks = total / HW;
  for (var block = gid.x; block < blocks; block += nwg.x * ${APPLY_WG}u) {
    let q = block / C;
    let gc = (q / NG) * C + (block - q * C);
    ${load}
    let end = (block + 1u) * HW;
    for (var e = block * HW; e < end; e++) {
      ${body}
    }
  }`;
  }
  return /* wgsl */ `${sizes}
  let chunk = ((total + nwg.x - 1u) / nwg.x + ${APPLY_WG - 1}u) / ${APPLY_WG}u * ${APPLY_WG}u;
  let end = min(total, wid.x * chunk + chunk);
  // The lane step (${APPLY_WG} units) and the start unit as digits in the mixed radix [groups, ng, C, hw].
  let sI = ${APPLY_WG}u % HW;
  var q = ${APPLY_WG}u / HW;
  let sC = q % C;
  q = q / C;
  let sN = q % NG;
  let sG = q / NG;
  let blockStep = sC + sN + sG;
  var e = wid.x * chunk + lid.x;
  var i = e % HW;
  q = e / HW;
  var c = q % C;
  q = q / C;
  var n = q % NG;
  var g = q / NG;
  // Lanes past the end (of the last chunk) never use their coefficients: clamp their index.
  var gc = min(g * C + c, GC - 1u);
  ${load}
  loop {
    if (e >= end) { break; }
    ${body}
    e += ${APPLY_WG}u;
    i += sI;
    var carry = select(0u, 1u, i >= HW);
    i -= carry * HW;
    if (blockStep + carry > 0u) {
      c += sC + carry;
      carry = select(0u, 1u, c >= C);
      c -= carry * C;
      n += sN + carry;
      carry = select(0u, 1u, n >= NG);
      n -= carry * NG;
      g += sG + carry;
      gc = min(g * C + c, GC - 1u);
      ${load}
    }
  }`;
}

export const APPLY_BUILTINS = `@builtin(global_invocation_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>`;
