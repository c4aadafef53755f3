// BatchNorm2d forward kernels (NCHW, float32): training statistics (which also update the running
// stats in place), eval-mode coefficients from the running stats, and the elementwise apply with
// the fused residual + ReLU epilogue. The math, the buffer layouts and the work layouts are
// described in kernels/batchnorm-common.ts.
//
// Edges: every loop is bounded by the sizes in the uniforms; see batchnorm-common.ts.
import {
  APPLY_BUILTINS,
  APPLY_WG,
  applyDispatch,
  applyLoop,
  applyUniforms,
  arrayOf,
  groupWalk,
  hsum,
  reduce2,
  reduceDispatch,
  reducePrologue,
  reduceUniforms,
  reduceWorkgroupSize,
  unitType,
  type ApplyLayout,
  type Binding,
} from './batchnorm-common';
import { bindingDecls, gridStride, paramsStruct, type KernelSpec, type UniformField } from './spec';

export { applyLayout, type ApplyLayout } from './batchnorm-common';

/**
 * Training statistics: per (g, c) mean and σ⁻¹ → coef; running stats updated in place with the
 * group averages. Bindings: x, weight, bias (read), runningMean, runningVar, coef (read_write).
 * Uniforms: c, ng, groups, hw, count, momentum, eps.
 */
export function bnStatsKernel(vec4: boolean, subgroupSize: number): KernelSpec {
  const wg = reduceWorkgroupSize(subgroupSize);
  const T = unitType(vec4);
  const uniforms: UniformField[] = [...reduceUniforms, { name: 'momentum', type: 'f32' }, { name: 'eps', type: 'f32' }];
  const bindings: Binding[] = [
    { name: 'x', access: 'read', type: arrayOf(vec4) },
    { name: 'weight', access: 'read' },
    { name: 'bias', access: 'read' },
    { name: 'runningMean', access: 'read_write' },
    { name: 'runningVar', access: 'read_write' },
    { name: 'coef', access: 'read_write' },
  ];
  const code = /* wgsl */ `
${subgroupSize > 0 ? 'enable subgroups;' : ''}
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}
${reduce2(subgroupSize)}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
${reducePrologue(subgroupSize)}
  var meanSum = 0.0;
  var varSum = 0.0;
  for (var g = 0u; g < G; g++) {
    let base = (g * NG * C + c) * HW;
    // The shift K: the mean of the group's first (up to) 8 units, the same in every lane. Being
    // close to μ, it keeps E[(x−K)²] − E[x−K]² from cancelling (a lone first value could sit
    // several σ away and amplify the rounding of the sums tenfold).
    let L = min(8u, NG * HW);
    var head = ${T}(0.0);
    for (var k = 0u; k < L; k++) { head += x[base + (k / HW) * blockStride + k % HW]; }
    let shift = ${hsum(vec4, 'head')} / f32(L * ${vec4 ? 4 : 1}u);
    var s1 = ${T}(0.0);
    var s2 = ${T}(0.0);
    ${groupWalk(`let v = x[off] - ${T}(shift);
      s1 += v;
      s2 = fma(v, v, s2);`)}
    let t = reduce2(vec2<f32>(${hsum(vec4, 's1')}, ${hsum(vec4, 's2')}));
    let d = t.x / M;
    let mean = shift + d;
    let variance = max(t.y / M - d * d, 0.0);
    let invstd = inverseSqrt(variance + p.eps);
    if (lane == 0u) {
      let gc = g * C + c;
      let scale = weight[c] * invstd;
      coef[gc] = scale;
      coef[GC + gc] = bias[c] - mean * scale;
      coef[2u * GC + gc] = mean;
      coef[3u * GC + gc] = invstd;
    }
    meanSum += mean;
    varSum += variance * M / (M - 1.0);
  }
  if (lane == 0u) {
    let m = p.momentum;
    let inv = 1.0 / f32(G);
    runningMean[c] = (1.0 - m) * runningMean[c] + m * meanSum * inv;
    runningVar[c] = (1.0 - m) * runningVar[c] + m * varSum * inv;
  }
}`;
  return {
    key: `bnStats:${vec4 ? 'vec4' : 'scalar'}:${subgroupSize}`,
    name: 'batchNorm.stats',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    requires: subgroupSize > 0 ? ['subgroups'] : [],
    dispatch: (u) => reduceDispatch(subgroupSize, Number(u.c)),
  };
}

/**
 * Eval mode: coef [4, 1, C] from the running stats. Bindings: weight, bias, runningMean,
 * runningVar (read), coef (read_write). Uniforms: c, eps.
 */
export function bnEvalCoefKernel(): KernelSpec {
  const uniforms: UniformField[] = [
    { name: 'c', type: 'u32' },
    { name: 'eps', type: 'f32' },
  ];
  const bindings: Binding[] = [
    { name: 'weight', access: 'read' },
    { name: 'bias', access: 'read' },
    { name: 'runningMean', access: 'read' },
    { name: 'runningVar', access: 'read' },
    { name: 'coef', access: 'read_write' },
  ];
  const code = /* wgsl */ `
${paramsStruct(uniforms)}
${bindingDecls(bindings, true)}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var c = gid.x; c < p.c; c += nwg.x * 64u) {
    let invstd = inverseSqrt(runningVar[c] + p.eps);
    let scale = weight[c] * invstd;
    coef[c] = scale;
    coef[p.c + c] = bias[c] - runningMean[c] * scale;
    coef[2u * p.c + c] = runningMean[c];
    coef[3u * p.c + c] = invstd;
  }
}`;
  return {
    key: 'bnEvalCoef',
    name: 'batchNorm.evalCoef',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => gridStride(Number(u.c), 64, 16),
  };
}

/**
 * y = relu?(x·scale + shift + residual?). Bindings: x, coef, [residual] (read), y (read_write).
 * Uniforms: c, ng, groups, hw, total.
 */
export function bnApplyKernel(vec4: boolean, relu: boolean, residual: boolean, layout: ApplyLayout): KernelSpec {
  const T = unitType(vec4);
  const bindings: Binding[] = [
    { name: 'x', access: 'read', type: arrayOf(vec4) },
    { name: 'coef', access: 'read' },
    ...(residual ? [{ name: 'res', access: 'read' as const, type: arrayOf(vec4) }] : []),
    { name: 'y', access: 'read_write', type: arrayOf(vec4) },
  ];
  const code = /* wgsl */ `
${paramsStruct(applyUniforms)}
${bindingDecls(bindings, true)}

@compute @workgroup_size(${APPLY_WG})
fn main(${APPLY_BUILTINS}) {
  var scale = ${T}(0.0);
  var shift = ${T}(0.0);
${applyLoop(
  layout,
  `scale = ${T}(coef[gc]);
    shift = ${T}(coef[GC + gc]);`,
  `var v = fma(x[e], scale, shift);
      ${residual ? 'v += res[e];' : ''}
      ${relu ? `v = max(v, ${T}(0.0));` : ''}
      y[e] = v;`,
)}
}`;
  return {
    key: `bnApply:${vec4 ? 'vec4' : 'scalar'}:${relu ? 'relu' : ''}:${residual ? 'res' : ''}:${layout}`,
    name: 'batchNorm.apply',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms: applyUniforms,
    dispatch: (u) => applyDispatch(layout, u),
  };
}
