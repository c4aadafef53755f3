// conv2d as an implicit GEMM (no im2col buffer) over row quads: C[(q, l), col] = Σ_k A(q, k)[l]·B[k, col],
//   A(q, k) = srcQ[rowBase(q) + kOff[k]]  a vec4: the 4 rows (lanes l) of quad q, read from the
//             zero-padded quad-layout copy of kernels/conv2d-prep.ts, so no tap needs a bounds check
//             (or, for the 1×1 convolutions that need no copy, from the input itself: the vec4
//             there, or with pixelStep 2 the even floats of the two vec4s there)
//   B       = wt, dense row-major [K rounded up to the subgroup size, colsV4·4] (vec4 loads)
//   C[(q, l), col] → out[outBase(q) + l·laneStride + col·colStride + split·splitStride] (+ bias[col])
//             for the real rows l < lanes(q) = min(4, laneLimit − 4a), a the first index of q
// rowBase and outBase split q = (a·d1 + b)·d2 + c once and return a·s0 + b·s1 + c·s2 + base with
// the strides in `rs` and in `os`. kernels/conv2d-geometry.ts says what the quads, k and col are
// for the forward pass, the stride phases of dX, and dW.
//
// Subgroup kernel (the lavapipe cost model of shared/docs/lavapipe-performance.md: loads are per
// lane and dear, shuffles nearly free; measured on lavapipe with llvmpipe's generated code): a
// subgroup of S lanes owns TQ quads (4·TQ rows, uniform across its lanes) × S·8 columns; each lane
// accumulates 4·TQ × 8 outputs in 8·TQ vec4 registers. Per S values of k, lane l loads A(q, k0 + l)
// once per quad (one vec4 load for 4 rows: 1.4× cheaper per value than scalars, and a quarter of
// the load instructions) and a rolled loop hands them out with subgroupShuffle, while each lane
// loads its 8 columns of B as 2 vec4 per k. The rolled loop takes 2 values of k per iteration:
// llvmpipe keeps the accumulators on the stack and masks every store to a loop variable with a
// blend, so two multiply-adds per update halve that overhead (10–15 % faster than 1 per
// iteration; 4 per iteration, or the 8 unrolled, measured 25–35 % slower). The quad bases live
// one per lane and reach the other lanes by subgroupBroadcast. Workgroup (S, wgy): lid.x is the
// lane, and each workgroup holds wgy subgroups of S consecutive invocations (true on lavapipe,
// checked by the tests; the ticket count below relies on it).
//
// Edges: quads ≥ `m` read row base 0 and store nothing; rows past laneLimit are not stored; k ≥
// the split's end loads 0 (select); the lanes past the last column clamp their B loads into the row
// and store nothing; wt has zero rows up to a multiple of S and zero columns up to a multiple of 8.
// Split-K: split s reduces k in [s·chunk, min(K, (s+1)·chunk)) (chunk a multiple of S) into its
// own slice of out. In the kernels with a fixed grid (narrow, plain) workgroup z = fold·splits +
// split, and quad groups beyond 65535 (or the `maxGridY` of the spec) fold into z.
//
// The subgroup kernel hands out its tiles (TQ quads × S·8 columns of one split) by tickets
// instead of by workgroup id (kernels/spec.ts, drawRun; order: bandedTiles), so on lavapipe a launch has one
// workgroup per thread and a thread that starts late draws fewer tiles (measured on the imagenet
// layer2.0.downsample forward: one thread drew 86–99 of the 172 tiles, the other the rest, once
// one drew all 172).
import { bandedTiles, bindingDecls, drawRun, groupsFor, MAX_WORKGROUPS_PER_DIM, paramsStruct, TICKETS_BINDING, ticketGrid, TILE_COORDS, TILE_UNIFORMS, u32Fields, type KernelSpec, type UniformField } from './spec';

export const MAX_GRID = MAX_WORKGROUPS_PER_DIM;

/**
 * What varies between launches of one GEMM kernel beyond its tile: a bias added at the store, how
 * A is read (`pixelStep` of kernels/conv2d-geometry.ts's GemmPlan: 1, the vec4 at the index; 2,
 * the even floats of the two vec4s there), and how C is written (`vecOut`).
 */
export interface IgemmVariant {
  bias: boolean;
  pixelStep: 1 | 2;
  /**
   * The 4 rows of a quad are 4 consecutive outputs, each quad's out base and the column stride
   * are multiples of 4, and every row of a live quad is real: the stores are one vec4 per column
   * instead of 4 scalars (the 1×1 convolutions that read their input directly).
   */
  vecOut?: boolean;
}

export const variantKey = (v: IgemmVariant) => `${v.bias ? 'bias' : 'nobias'}:px${v.pixelStep}${v.vecOut ? ':v4' : ''}`;

/** `m` is the number of row quads. */
export const igemmUniforms: UniformField[] = [
  ...u32Fields('m', 'cols', 'colsV4', 'k', 'chunk', 'splits', 'colStride', 'splitStride', 'laneStride', 'laneLimit', 'd1', 'd2'),
  { name: 'rs', type: 'vec4<u32>' },
  { name: 'os', type: 'vec4<u32>' },
];

/** The subgroup kernel's uniforms: the GEMM's, and its tiles (TILE_UNIFORMS; row tiles of TQ quads, per split). */
export const ticketUniforms: UniformField[] = [...igemmUniforms, ...TILE_UNIFORMS];

export function igemmBindings({ bias, vecOut }: IgemmVariant): { name: string; access: 'read' | 'read_write'; type?: string }[] {
  return [
    { name: 'src', access: 'read', type: 'array<vec4<f32>>' },
    { name: 'koff', access: 'read', type: 'array<u32>' },
    { name: 'wt', access: 'read', type: 'array<vec4<f32>>' },
    { name: 'out', access: 'read_write', ...(vecOut ? { type: 'array<vec4<f32>>' } : {}) },
    ...(bias ? [{ name: 'bias', access: 'read' as const }] : []),
  ];
}

/** Stores of one row of a quad at a time: 8 scalars per row (any output layout). */
const rowStores = (bias: boolean) => /* wgsl */ `fn put(base: u32, col: u32, v: f32) {
  if (col < p.cols) { out[base + col * p.colStride] = v${bias ? ' + bias[col]' : ''}; }
}
fn put8(base: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
  put(base, col, lo.x); put(base, col + 1u, lo.y); put(base, col + 2u, lo.z); put(base, col + 3u, lo.w);
  put(base, col + 4u, hi.x); put(base, col + 5u, hi.y); put(base, col + 6u, hi.z); put(base, col + 7u, hi.w);
}
// Stores row l of a quad (base = its out base + split offset) when it is one of the quad's real rows.
fn putRow(info: vec3<u32>, base: u32, l: u32, col: u32, lo: vec4<f32>, hi: vec4<f32>) {
  if (l < info.z) { put8(base + l * p.laneStride, col, lo, hi); }
}`;

/** Stores of a whole quad (vecOut): per column one vec4 of its 4 rows. */
const quadStores = (bias: boolean) => /* wgsl */ `fn put4(base: u32, col: u32, v: vec4<f32>) {
  if (col < p.cols) { out[(base + col * p.colStride) >> 2u] = v${bias ? ' + vec4<f32>(bias[col])' : ''}; }
}
// A live quad (info.z = 4 real rows; 0 past the last quad): rows r0..r3, 8 columns as two vec4s each.
fn putQuad(info: vec3<u32>, base: u32, col: u32, r0a: vec4<f32>, r0b: vec4<f32>, r1a: vec4<f32>, r1b: vec4<f32>,
           r2a: vec4<f32>, r2b: vec4<f32>, r3a: vec4<f32>, r3b: vec4<f32>) {
  if (info.z == 0u) { return; }
  put4(base, col, vec4<f32>(r0a.x, r1a.x, r2a.x, r3a.x)); put4(base, col + 1u, vec4<f32>(r0a.y, r1a.y, r2a.y, r3a.y));
  put4(base, col + 2u, vec4<f32>(r0a.z, r1a.z, r2a.z, r3a.z)); put4(base, col + 3u, vec4<f32>(r0a.w, r1a.w, r2a.w, r3a.w));
  put4(base, col + 4u, vec4<f32>(r0b.x, r1b.x, r2b.x, r3b.x)); put4(base, col + 5u, vec4<f32>(r0b.y, r1b.y, r2b.y, r3b.y));
  put4(base, col + 6u, vec4<f32>(r0b.z, r1b.z, r2b.z, r3b.z)); put4(base, col + 7u, vec4<f32>(r0b.w, r1b.w, r2b.w, r3b.w));
}`;

/** WGSL shared by the GEMM kernels (wide, narrow, no subgroups): the A read, the index maps and the guarded stores. */
export function igemmHelpers({ bias, pixelStep, vecOut }: IgemmVariant): string {
  const read =
    pixelStep === 1
      ? 'return src[i];'
      : 'let lo = src[i]; let hi = src[i + 1u]; return vec4<f32>(lo.x, lo.z, hi.x, hi.z);';
  return /* wgsl */ `
// A's 4 rows of one quad for one k, at vec4 index i.
fn loadA(i: u32) -> vec4<f32> { ${read} }
// (row base, out base, real rows) of quad q; the row base is 0 and no row is real past the last quad.
fn quad(q: u32) -> vec3<u32> {
  let t = q / p.d2;
  let c = q - t * p.d2;
  let a = t / p.d1;
  let b = t - a * p.d1;
  let live = q < p.m;
  let rb = a * p.rs.x + b * p.rs.y + c * p.rs.z + p.rs.w;
  let lanes = min(4u, p.laneLimit - min(p.laneLimit, a * 4u));
  return vec3<u32>(select(0u, rb, live), a * p.os.x + b * p.os.y + c * p.os.z + p.os.w, select(0u, lanes, live));
}
${vecOut ? quadStores(bias) : rowStores(bias)}`;
}

/**
 * Workgroups for a launch of a kernel whose workgroup covers rowsPerGroup × colsPerGroup (rows
 * counted like the uniform `m`): x the column groups, y up to maxGridY row groups, z =
 * folds·splits (the kernels read the fold size from num_workgroups.y, so a smaller maxGridY only
 * changes the grid, never the results).
 */
export function igemmDispatch(rowsPerGroup: number, colsPerGroup: number, maxGridY = MAX_GRID) {
  return (u: Record<string, unknown>): [number, number, number] => {
    const rowGroups = groupsFor(Number(u.m), rowsPerGroup);
    const colGroups = groupsFor(Number(u.cols), colsPerGroup);
    const folds = Math.ceil(rowGroups / maxGridY);
    return [colGroups, Math.min(rowGroups, maxGridY), folds * Number(u.splits)];
  };
}

export interface IgemmTile {
  /** Row quads per workgroup. */
  rowsPerGroup: number;
  colsPerGroup: number;
  /** wt must hold zero rows up to a multiple of this. */
  kMultiple: number;
}

export function subgroupTile(subgroupSize: number, tq = 6, wgy = Math.max(1, 64 / subgroupSize)): IgemmTile {
  return { rowsPerGroup: tq * wgy, colsPerGroup: subgroupSize * 8, kMultiple: subgroupSize };
}

/**
 * The FMA block of the wide-register kernels for one k: per quad j, one vec4 load of 4 rows' A
 * values at `loadA(rb{j} + off)`, each multiplied into the two column vec4s b0, b1.
 */
export function quadFmas(quads: number[], indent: string): string {
  const comp = ['x', 'y', 'z', 'w'];
  return quads
    .map(
      (j) =>
        `${indent}{ let a = loadA(rb${j} + off);\n` +
        [0, 1, 2, 3]
          .map((l) => `${indent}  c${4 * j + l}a = fma(vec4<f32>(a.${comp[l]}), b0, c${4 * j + l}a); c${4 * j + l}b = fma(vec4<f32>(a.${comp[l]}), b1, c${4 * j + l}b);`)
          .join('\n') +
        ' }',
    )
    .join('\n');
}

/** WGSL storing the accumulators c{4j+l}a/b of quad j (info `qi`, split offset `splitOff`). */
export function storeQuad(j: number, qi: string, vecOut = false): string {
  if (vecOut) return `putQuad(${qi}, ${qi}.y + splitOff, col0, ${[0, 1, 2, 3].map((l) => `c${4 * j + l}a, c${4 * j + l}b`).join(', ')});`;
  return [0, 1, 2, 3].map((l) => `putRow(${qi}, ${qi}.y + splitOff, ${l}u, col0, c${4 * j + l}a, c${4 * j + l}b);`).join(' ');
}

/**
 * The tiles of a launch of the subgroup kernel (split-K `splits`, reduction length `k`): TQ quads
 * × S·8 columns of one split each, in bandedTiles' order.
 */
export function ticketTiles(s: number, tq: number, u: { m: number; cols: number; splits: number; chunk: number }) {
  // a row tile: 4·TQ rows of `chunk` floats of A; B: `chunk` rows of `cols` floats
  return bandedTiles(Math.ceil(u.m / tq), Math.ceil(u.cols / (s * 8)), u.splits, 4 * tq * 4 * u.chunk, 4 * u.chunk * u.cols);
}

/**
 * The implicit GEMM with subgroup shuffles: subgroup size `s`, `tq` quads per subgroup tile,
 * `wgy` subgroups per workgroup; tiles handed out by tickets (bindings: igemmBindings, then the
 * two counters of GpuContext.ticketCounters).
 */
export function igemmSubgroupKernel(s: number, variant: IgemmVariant, tq = 6, wgy = Math.max(1, 64 / s)): KernelSpec {
  if (!Number.isInteger(Math.log2(s)) || s < 4 || s > 128) throw new Error(`conv2d kernel: unsupported subgroup size ${s}`);
  if (tq > s) throw new Error(`conv2d kernel: ${tq} quads per subgroup need more than ${s} lanes`);
  const quads = [...Array(tq).keys()];
  const rows = [...Array(4 * tq).keys()];
  const comp = ['x', 'y', 'z', 'w'];
  const bindings = [...igemmBindings(variant), TICKETS_BINDING];
  const code = /* wgsl */ `
enable subgroups;
diagnostic(off, subgroup_uniformity);
${paramsStruct(ticketUniforms)}
${bindingDecls(bindings, true)}
${igemmHelpers(variant)}
${TILE_COORDS}

@compute @workgroup_size(${s}, ${wgy})
fn main(@builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(subgroup_invocation_id) lane: u32) {
  let colsV4 = p.colsV4;
  let subgroups = nwg.x * nwg.y * nwg.z * ${wgy}u;
  loop {
${drawRun('    ')}
    for (var i = 0u; i < count; i++) {
    let split = at.z;
    let q0 = at.x * ${tq}u;
    let col0 = (at.y * ${s}u + lid.x) * 8u;
    let col4 = min(col0 / 4u, colsV4 - 2u);
    let info = quad(q0 + lane); // lane j holds quad q0 + j
    let rb = info.x;
    let kBegin = split * p.chunk;
    let kEnd = min(p.k, kBegin + p.chunk);
${rows.map((i) => `    var c${i}a = vec4<f32>(0.0); var c${i}b = vec4<f32>(0.0);`).join('\n')}
    for (var k0 = kBegin; k0 < kEnd; k0 += ${s}u) {
      let kk = k0 + lane;
      let live = kk < kEnd;
      let off = koff[kk];
${quads.map((j) => `      let a${j} = select(vec4<f32>(0.0), loadA(subgroupBroadcast(rb, ${j}u) + off), live);`).join('\n')}
      var bi = k0 * colsV4 + col4;
      for (var u = 0u; u < ${s}u; u += 2u) {
        let b0 = wt[bi];
        let b1 = wt[bi + 1u];
        let b2 = wt[bi + colsV4];
        let b3 = wt[bi + colsV4 + 1u];
        bi += 2u * colsV4;
${quads
  .map(
    (j) =>
      `        { let x = subgroupShuffle(a${j}, u); let y = subgroupShuffle(a${j}, u + 1u);\n` +
      [0, 1, 2, 3]
        .map((l) => {
          const i = 4 * j + l;
          const c = comp[l];
          return `          c${i}a = fma(vec4<f32>(y.${c}), b2, fma(vec4<f32>(x.${c}), b0, c${i}a)); c${i}b = fma(vec4<f32>(y.${c}), b3, fma(vec4<f32>(x.${c}), b1, c${i}b));`;
        })
        .join('\n') +
      ' }',
  )
  .join('\n')}
      }
    }
    let splitOff = split * p.splitStride;
${quads
  .map((j) => `    { let qi = vec3<u32>(subgroupBroadcast(info.x, ${j}u), subgroupBroadcast(info.y, ${j}u), subgroupBroadcast(info.z, ${j}u)); ${storeQuad(j, 'qi', variant.vecOut)} }`)
  .join('\n')}
    at = nextTile(at);
    }
  }
}`;
  return {
    key: `conv2d.igemm.sg:${s}:${tq}:${wgy}:${variantKey(variant)}`,
    name: 'conv2d.igemm',
    code,
    bindings: bindings.map((b) => b.access),
    uniforms: ticketUniforms,
    requires: ['subgroups'],
    dispatch: (u) => ticketGrid(Number(u.tiles), wgy, 0),
  };
}
