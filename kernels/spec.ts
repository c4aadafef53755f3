// A kernel is described as data: its WGSL, its storage bindings, its uniform fields and how many
// workgroups a launch needs. Nothing here touches the GPU or knows about tensors; lib/ compiles a
// spec once per `key` (the kernel name plus its compile-time configuration, never a tensor size)
// and packs the uniform values a launch passes.
//
// Binding layout of every kernel: storage buffers at @binding(0..n-1) in the order of `bindings`,
// then, when the kernel has uniform fields, one uniform buffer at @binding(n) holding struct
// `Params` (declared by `paramsStruct`). All buffers are in @group(0).

export type Access = 'read' | 'read_write';

/** A uniform field: a 4-byte scalar, a vec4, or a fixed-length array of vec4 (16-byte stride). */
export type UniformType = 'u32' | 'i32' | 'f32' | 'vec4<u32>' | 'vec4<i32>' | 'vec4<f32>';

export interface UniformField {
  name: string;
  type: UniformType;
  /** When set, the field is `array<type, length>`; type must then be a vec4. */
  length?: number;
}

export type UniformValues = Record<string, number | ArrayLike<number>>;

export type Workgroups = [number, number, number];

export type Feature = 'subgroups' | 'shader-f16';

export interface KernelSpec {
  /** Pipeline cache key: name + compile-time config. Must not contain tensor sizes. */
  key: string;
  /** Human name used in error messages and GPU object labels. */
  name: string;
  /** The whole shader, entry point `main`. */
  code: string;
  bindings: Access[];
  uniforms: UniformField[];
  /** Device features the shader needs (the runtime checks them before compiling). */
  requires?: Feature[];
  /** Number of workgroups for a launch with these uniform values. */
  dispatch(u: UniformValues): Workgroups;
}

/** WGSL declaration of the binding block for `bindings` + `Params` (see the layout note above). */
export function bindingDecls(bindings: { name: string; access: Access; type?: string }[], hasParams: boolean): string {
  const lines = bindings.map((b, i) => {
    const mode = b.access === 'read' ? 'read' : 'read_write';
    return `@group(0) @binding(${i}) var<storage, ${mode}> ${b.name}: ${b.type ?? 'array<f32>'};`;
  });
  if (hasParams) lines.push(`@group(0) @binding(${bindings.length}) var<uniform> p: Params;`);
  return lines.join('\n');
}

/** WGSL `struct Params { ... }` for the uniform fields, in the order given. */
export function paramsStruct(fields: UniformField[]): string {
  const body = fields
    .map((f) => (f.length ? `  ${f.name}: array<${f.type}, ${f.length}>,` : `  ${f.name}: ${f.type},`))
    .join('\n');
  return `struct Params {\n${body}\n}`;
}

/** Shorthand for a list of u32 uniform fields. */
export function u32Fields(...names: string[]): UniformField[] {
  return names.map((name) => ({ name, type: 'u32' as const }));
}

/** Workgroup count for `n` items at `perGroup` items each, at least 1. */
export function groupsFor(n: number, perGroup: number): number {
  return Math.max(1, Math.ceil(n / perGroup));
}

/** Largest number of workgroups allowed in one dimension (WebGPU's default limit). */
export const MAX_WORKGROUPS_PER_DIM = 65535;

/** A 1-D grid-stride launch: enough workgroups of `perGroup` items for `count`, at most `maxGroups`. */
export function gridStride(count: number, perGroup: number, maxGroups: number): Workgroups {
  return [Math.min(maxGroups, groupsFor(count, perGroup)), 1, 1];
}

/** The workgroup size and the most workgroups of `gridStrideKernel` launches. */
const GRID_WG = 64;
const GRID_MAX_GROUPS = 512;

/**
 * A kernel whose invocations walk idx < p.total (a u32 uniform it must declare) in a grid-stride
 * loop over at most 512 workgroups of 64 (few workgroups doing much work are fastest on
 * lavapipe: shared/docs/lavapipe-performance.md §3). `body` are the loop's WGSL lines, `helpers`
 * WGSL placed before main.
 */
export function gridStrideKernel(k: {
  key: string;
  name: string;
  uniforms: UniformField[];
  bindings: { name: string; access: Access; type?: string }[];
  body: string[];
  helpers?: string;
}): KernelSpec {
  const code = /* wgsl */ `
${paramsStruct(k.uniforms)}
${bindingDecls(k.bindings, true)}
${k.helpers ?? ''}
@compute @workgroup_size(${GRID_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * ${GRID_WG}u;
  for (var idx = gid.x; idx < p.total; idx += stride) {
${k.body.map((l) => `    ${l}`).join('\n')}
  }
}`;
  return {
    key: k.key,
    name: k.name,
    code,
    bindings: k.bindings.map((b) => b.access),
    uniforms: k.uniforms,
    dispatch: (u) => gridStride(Number(u.total), GRID_WG, GRID_MAX_GROUPS),
  };
}

// Tiles handed out by tickets. A kernel whose tiles are independent can draw them from a counter
// instead of mapping workgroup ids to tiles, so a launch may have fewer workgroups than tiles. On
// lavapipe that balances the work: its compute thread pool hands each of its threads a fixed,
// equal share of a launch's workgroups up front, so a thread that starts late (or shares its core)
// held the whole launch back, while with one workgroup per thread it just draws less. Lane 0 of a
// subgroup draws a run of consecutive tiles at a time (compare-exchange on the counter): half the
// remaining tiles divided by the subgroups in the launch, at least one, so the first draws are long
// runs and the last are single tiles (guided self-scheduling). Long runs keep each thread's output
// contiguous: drawing single tiles made the threads write alternate tiles, and so share the cache
// lines at every tile boundary, which made the cifar stem's first convolution (1366 tiles) 37%
// slower. A subgroup that finds no tile left counts itself done in a second counter; the last of
// the launch sets both back to zero, so the next launch (launches run one after another) finds
// them at zero (GpuContext.ticketCounters holds the pair).

/** The binding of the two counters (a 16-byte buffer). */
export const TICKETS_BINDING = { name: 'tickets', access: 'read_write' as const, type: 'array<atomic<u32>, 4>' };

/**
 * WGSL for the head of the outer tile `loop`: lane 0 draws the subgroup's next run of tiles, and
 * `count` (≥ 1) and `at`, the coordinates of the run's first tile (TILE_COORDS: row tile, column
 * group, outer index, start of the row band), are set, uniform in the subgroup; when no tile is
 * left it does the end-of-launch bookkeeping and breaks out of the loop. The kernel then runs
 * `for (var i = 0u; i < count; i++) { tile at `at`; at = nextTile(at); }`. Needs `lane`
 * (subgroup_invocation_id), TILE_UNIFORMS, TILE_COORDS and `subgroups` (workgroups × subgroups per
 * workgroup). (llvmpipe runs both sides of every branch, masked, so a draw checked per tile cost
 * its whole code on every tile: 7% of the cifar stem's first convolution, 1366 tiles of a short
 * reduction, on one thread.)
 */
export function drawRun(indent: string): string {
  return [
    'var run = vec2<u32>(0u, 0u);',
    'if (lane == 0u) {',
    '  loop {',
    '    let old = atomicLoad(&tickets[0]);',
    '    if (old >= p.tiles) { break; }',
    '    let take = max(1u, (p.tiles - old) / (2u * subgroups));',
    '    if (atomicCompareExchangeWeak(&tickets[0], old, old + take).exchanged) { run = vec2<u32>(old, take); break; }',
    '  }',
    '}',
    'let count = subgroupBroadcast(run.y, 0u);',
    'if (count == 0u) {',
    '  // The last subgroup of the launch to get here resets the counters for the next launch.',
    '  if (lane == 0u) {',
    '    if (atomicAdd(&tickets[1], 1u) == subgroups - 1u) { atomicStore(&tickets[0], 0u); atomicStore(&tickets[1], 0u); }',
    '  }',
    '  break;',
    '}',
    'var at = tileCoords(subgroupBroadcast(run.x, 0u));',
  ]
    .map((line) => indent + line)
    .join('\n');
}

/** The uniforms of a GEMM whose tiles go out by tickets (see bandedTiles). */
export const TILE_UNIFORMS: UniformField[] = u32Fields('tiles', 'colGroups', 'rowTiles', 'band');

/**
 * The tile numbering of a GEMM (rowTiles × colGroups output tiles per outer index: a batch, a
 * split of K) that cache reuse asks for: outer index slowest; within it bands of `band` row tiles,
 * the column groups of a band in order, and for each column group the band's row tiles in a row.
 * Where all of B (K × every column, `bBytes`) fits in CACHE_BYTES, a band is one row tile: the
 * column groups of a row tile come one after another and share its A rows, and B stays in cache.
 * Otherwise a block of B (K × one column group) is used by `band` tiles one after another, and
 * the band's A rows (band × `bytesPerRowTile`, kept within CACHE_BYTES) by every column group.
 * (Row tile after row tile for a large B swept B once per row tile: the MoCo l_neg product
 * 256×128×65536, 32 MB of B, took 139–142 ms against 116–119 ms before tickets, when a workgroup's
 * two subgroups shared their columns.)
 */
export function bandedTiles(rowTiles: number, colGroups: number, outer: number, bytesPerRowTile: number, bBytes: number) {
  const fit = Math.floor(CACHE_BYTES / Math.max(1, bytesPerRowTile));
  const band = bBytes <= CACHE_BYTES ? 1 : Math.max(1, Math.min(rowTiles, fit));
  return { tiles: rowTiles * colGroups * outer, colGroups, rowTiles, band };
}

/** Bytes of an operand that a tile order counts on staying in cache (a quarter of a 1 MB L2 cache). */
const CACHE_BYTES = 256 * 1024;

/**
 * WGSL `fn tileCoords(t)`: (row tile, column group, outer index, start of its row band) of tile t
 * in bandedTiles' order, and `fn nextTile(c)`: those of the tile after the one at c.
 */
export const TILE_COORDS = /* wgsl */ `
fn tileCoords(t: u32) -> vec4<u32> {
  let perOuter = p.rowTiles * p.colGroups;
  let outer = t / perOuter;
  let r = t - outer * perOuter;
  let bandStart = (r / (p.band * p.colGroups)) * p.band;
  let rows = min(p.band, p.rowTiles - bandStart);
  let inBand = r - bandStart * p.colGroups;
  let col = inBand / rows;
  return vec4<u32>(bandStart + inBand - col * rows, col, outer, bandStart);
}
fn nextTile(c: vec4<u32>) -> vec4<u32> {
  let rowWrap = c.x + 1u >= min(c.w + p.band, p.rowTiles); // past the band's last row tile
  let colWrap = rowWrap && c.y + 1u >= p.colGroups; // and past the last column group: next band
  let outerWrap = colWrap && c.w + p.band >= p.rowTiles; // and past the last band: next outer index
  let w = select(c.w, select(c.w + p.band, 0u, outerWrap), colWrap);
  let y = select(select(c.y, c.y + 1u, rowWrap), 0u, colWrap);
  return vec4<u32>(select(c.x + 1u, w, rowWrap), y, select(c.z, c.z + 1u, outerWrap), w);
}`;

/**
 * Workgroups for a launch of a ticket kernel: one per `perGroup` tiles (its subgroups), and no more
 * than `concurrent` (when > 0: the workgroups the device runs at once) or one dimension's limit.
 */
export function ticketGrid(tiles: number, perGroup: number, concurrent: number): Workgroups {
  const all = groupsFor(tiles, perGroup);
  return [Math.min(all, concurrent > 0 ? concurrent : all, MAX_WORKGROUPS_PER_DIM), 1, 1];
}
