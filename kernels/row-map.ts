// The write pass of the row kernels: out = f(inputs, per-row values) over a contiguous
// [rows, cols] matrix, where the per-row values (a row's logsumexp, a norm, a dot product) were
// computed by a reduction kernel before.
//
// Why a separate pass with its own ownership rule: outputs are written as whole vec4s. (A fused
// softmax kernel writing scalars took 5.1–6.2 ms at 256×8193 on lavapipe, this pair of kernels
// 4.7 ms, best of 9.) When cols % 4 != 0, one vec4 can hold the tail of row r and the head of
// row r + 1, so no single row's workgroup could write it from its own row's values alone. Here the
// workgroup of row r writes every vec4 whose first element lies in row r (v from ceil(base/4)
// while 4v < end), and takes each component's per-row values from row r or, past the row's end,
// from row r + 1: it reads the values of both rows. With cols = 1 a vec4 holds four rows, so the
// `narrow` variant (used below 4 columns) computes every component's row by division. Components
// past the last row lie in the tensor's 16-byte padding (lib/storage.ts): they take the last row's
// values and are written but never read.
//
// The kernel's author supplies `row_param(r, base) -> vec4<f32>`: up to four values of row r (base
// is the first element of the workgroup's own row, for values relative to it). In `expr`
// they arrive per component as vec4s `a`, `b`, `c`, `d` (fields x, y, z, w of row_param), next to
// `i` (the vec4<u32> of element indices) and the inputs, read as `name[v]`.
import { ROW_UNIFORMS, rowDispatch, rowMain, rowPrelude, VEC4, type Binding, type RowConfig } from './rows';
import type { KernelSpec, UniformField } from './spec';

export interface RowMapOptions {
  name: string;
  /** Inputs read as vec4 at [v] in `expr`. */
  inputs: string[];
  /** Per-row inputs (array<f32>, indexed by row) that `rowParam` reads. */
  rowInputs: string[];
  /** Body of `fn row_param(r: u32, base: u32) -> vec4<f32>` (may use p.* and the row inputs). */
  rowParam: string;
  /** vec4<f32> expression of the output. */
  expr: string;
  uniforms?: UniformField[];
}

/** Bindings: inputs, rowInputs, out. Uniforms: rows, cols, then o.uniforms. */
export function rowMapKernel(o: RowMapOptions, c: RowConfig, narrow: boolean): KernelSpec {
  const uniforms = [...ROW_UNIFORMS, ...(o.uniforms ?? [])];
  const bindings: Binding[] = [
    ...o.inputs.map((name) => ({ name, access: 'read' as const, type: VEC4 })),
    ...o.rowInputs.map((name) => ({ name, access: 'read' as const })),
    { name: 'out', access: 'read_write', type: VEC4 },
  ];
  // Per-component row values: rows r and r + 1 (wide rows) or a division per component (narrow).
  const params = narrow
    ? /* wgsl */ `
    let last = p.rows - 1u;
    let q = array<vec4<f32>, 4>(q0, row_param(min(i.y / p.cols, last), base),
                                row_param(min(i.z / p.cols, last), base), row_param(min(i.w / p.cols, last), base));`
    : /* wgsl */ `
    let past = i >= vec4<u32>(end);
    let q = array<vec4<f32>, 4>(q0, select(q0, q1, past.y), select(q0, q1, past.z), select(q0, q1, past.w));`;
  const code = /* wgsl */ `${rowPrelude(c, uniforms, bindings, false)}

fn row_param(r: u32, base: u32) -> vec4<f32> {
  ${o.rowParam}
}
${rowMain(c)}
  let q0 = row_param(row, base);
  ${narrow ? '' : 'let q1 = row_param(min(row + 1u, p.rows - 1u), base);'}
  ${narrow ? 'for (var v = (base + 3u) / 4u + lid; v * 4u < end; v += LANES) {' : `// the vec4s wholly inside the row take this row's values in every component
  let last = end / 4u;
  for (var v = (base + 3u) / 4u + lid; v < last; v += LANES) {
    let i = vec4<u32>(v * 4u) + vec4<u32>(0u, 1u, 2u, 3u);
    let a = vec4<f32>(q0.x);
    let b = vec4<f32>(q0.y);
    let c = vec4<f32>(q0.z);
    let d = vec4<f32>(q0.w);
    out[v] = ${o.expr};
  }
  // the vec4 this row shares with the next, if any (its first element is in this row)
  if (lid == 0u && last * 4u < end) {
    let v = last;`}
    let i = vec4<u32>(v * 4u) + vec4<u32>(0u, 1u, 2u, 3u);
    ${params}
    let a = vec4<f32>(q[0].x, q[1].x, q[2].x, q[3].x);
    let b = vec4<f32>(q[0].y, q[1].y, q[2].y, q[3].y);
    let c = vec4<f32>(q[0].z, q[1].z, q[2].z, q[3].z);
    let d = vec4<f32>(q[0].w, q[1].w, q[2].w, q[3].w);
    out[v] = ${o.expr};
  }
}`;
  return {
    key: `${o.name}:L${c.lanes}:${narrow ? 'narrow' : 'wide'}`,
    name: o.name,
    code,
    bindings: bindings.map((b) => b.access),
    uniforms,
    dispatch: (u) => rowDispatch(Number(u.rows)),
  };
}

/** Whether rows of `cols` elements need the narrow variant of a map kernel. */
export function isNarrow(cols: number): boolean {
  return cols < 4;
}
