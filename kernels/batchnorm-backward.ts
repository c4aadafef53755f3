// BatchNorm2d backward kernels (NCHW, float32): a per-channel reduction giving dweight, dbias and
// the dx coefficients of every (group, channel), then an elementwise pass writing dx (and, with a
// ReLU and a residual that needs it, the masked gradient gz). The formulas, the buffer layouts
// and the work layouts are described in kernels/batchnorm-common.ts.
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
import { bindingDecls, paramsStruct, type KernelSpec } from './spec';

/**
 * Backward reduction: per (g, c) the dx coefficients → dcoef, and per c dweight, dbias.
 * Bindings: gy, x, [y when relu], coef (read), dcoef, dweight, dbias (read_write).
 * Uniforms: c, ng, groups, hw, count. `training` false: dx = scale·gz (bx = c0 = 0).
 */
export function bnBackwardReduceKernel(vec4: boolean, subgroupSize: number, relu: boolean, training: boolean): KernelSpec {
  const wg = reduceWorkgroupSize(subgroupSize);
  const T = unitType(vec4);
  const bindings: Binding[] = [
    { name: 'gy', access: 'read', type: arrayOf(vec4) },
    { name: 'x', access: 'read', type: arrayOf(vec4) },
    ...(relu ? [{ name: 'y', access: 'read' as const, type: arrayOf(vec4) }] : []),
    { name: 'coef', access: 'read' },
    { name: 'dcoef', access: 'read_write', type: 'array<vec4<f32>>' },
    { name: 'dweight', access: 'read_write' },
    { name: 'dbias', access: 'read_write' },
  ];
  const gz = relu ? `select(${T}(0.0), gy[off], y[off] > ${T}(0.0))` : 'gy[off]';
  const code = /* wgsl */ `
${subgroupSize > 0 ? 'enable subgroups;' : ''}
${paramsStruct(reduceUniforms)}
${bindingDecls(bindings, true)}
${reduce2(subgroupSize)}

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
${reducePrologue(subgroupSize)}
  var dw = 0.0;
  var db = 0.0;
  for (var g = 0u; g < G; g++) {
    let base = (g * NG * C + c) * HW;
    let gc = g * C + c;
    let scale = coef[gc];
    let mean = coef[2u * GC + gc];
    let invstd = coef[3u * GC + gc];
    var s1 = ${T}(0.0);
    var s2 = ${T}(0.0);
    ${groupWalk(`let gz = ${gz};
      s1 += gz;
      s2 = fma(gz, x[off] - ${T}(mean), s2);`)}
    let t = reduce2(vec2<f32>(${hsum(vec4, 's1')}, ${hsum(vec4, 's2')}));
    let sdy = t.x;
    let sxh = t.y * invstd;
    if (lane == 0u) {
      ${
        training
          ? 'dcoef[gc] = vec4<f32>(scale, -scale * invstd * sxh / M, -scale * sdy / M, mean);'
          : 'dcoef[gc] = vec4<f32>(scale, 0.0, 0.0, mean);'
      }
    }
    db += sdy;
    dw += sxh;
  }
  if (lane == 0u) {
    dweight[c] = dw;
    dbias[c] = db;
  }
}`;
  return {
    key: `bnBackwardReduce:${vec4 ? 'vec4' : 'scalar'}:${subgroupSize}:${relu ? 'relu' : ''}:${training ? 'train' : 'eval'}`,
    name: 'batchNorm.backwardReduce',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms: reduceUniforms,
    requires: subgroupSize > 0 ? ['subgroups'] : [],
    dispatch: (u) => reduceDispatch(subgroupSize, Number(u.c)),
  };
}

/**
 * dx = scale·gz + bx·(x − μ) + c0 per unit, and optionally gz itself (the residual's gradient).
 * Bindings: gy, [x when training], [y when relu], dcoef (read), dx, [gz when writeGz] (read_write).
 * Uniforms: c, ng, groups, hw, total.
 */
export function bnBackwardApplyKernel(
  vec4: boolean,
  relu: boolean,
  training: boolean,
  writeGz: boolean,
  layout: ApplyLayout,
): KernelSpec {
  const T = unitType(vec4);
  const bindings: Binding[] = [
    { name: 'gy', access: 'read', type: arrayOf(vec4) },
    ...(training ? [{ name: 'x', access: 'read' as const, type: arrayOf(vec4) }] : []),
    ...(relu ? [{ name: 'y', access: 'read' as const, type: arrayOf(vec4) }] : []),
    { name: 'dcoef', access: 'read', type: 'array<vec4<f32>>' },
    { name: 'dx', access: 'read_write', type: arrayOf(vec4) },
    ...(writeGz ? [{ name: 'gzOut', access: 'read_write' as const, type: arrayOf(vec4) }] : []),
  ];
  const gz = relu ? `select(${T}(0.0), gy[e], y[e] > ${T}(0.0))` : 'gy[e]';
  const dx = training ? 'fma(a, gz, fma(bx, x[e] - mean, c0))' : 'a * gz';
  const code = /* wgsl */ `
${paramsStruct(applyUniforms)}
${bindingDecls(bindings, true)}

@compute @workgroup_size(${APPLY_WG})
fn main(${APPLY_BUILTINS}) {
  var a = ${T}(0.0);
  var bx = ${T}(0.0);
  var c0 = ${T}(0.0);
  var mean = ${T}(0.0);
${applyLoop(
  layout,
  `let k = dcoef[gc];
    a = ${T}(k.x);
    bx = ${T}(k.y);
    c0 = ${T}(k.z);
    mean = ${T}(k.w);`,
  `let gz = ${gz};
      dx[e] = ${dx};
      ${writeGz ? 'gzOut[e] = gz;' : ''}`,
)}
}`;
  return {
    key: `bnBackwardApply:${vec4 ? 'vec4' : 'scalar'}:${relu ? 'relu' : ''}:${training ? 'train' : 'eval'}:${writeGz ? 'gz' : ''}:${layout}`,
    name: 'batchNorm.backwardApply',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms: applyUniforms,
    dispatch: (u) => applyDispatch(layout, u),
  };
}
