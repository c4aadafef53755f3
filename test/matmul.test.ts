import { test } from 'uvu';
import { bmm, fromArray, liveTensorCount, matmul, type KernelSpec, type Tensor } from '../lib/index';
import { refGemm, refMatmul, refMatmulBackward, type RefArray, type RefGemmDims } from '../lib/cpu/index';
import { gemm, splitKFor, TRANSPOSE_B_MIN_ROWS } from '../lib/ops/matmul';
import { rangeOf } from '../lib/ops/util';
import { assertClose, assertThrows, type Tolerance } from './helpers/assert';
import { caseGenerator, checkOp, randomArray } from './helpers/check';
import { ctx, onPath } from './helpers/gpu';

// Tolerances: products are f32 sums of K terms of size ~1 (inputs are standard normal), so the
// rounding error grows like √K·ε·|terms|: rtol 1e-4 and atol 1e-5·√K, K the contraction length.
const tol = (K: number): Tolerance => ({ rtol: 1e-4, atol: 1e-5 * Math.sqrt(Math.max(K, 1)) });

// Both kernel paths: the subgroup register-tile kernel (16×8 per invocation, or 16×16 for wide
// row-major B; 128×64 (128) per workgroup, K in steps of 8, vec4 alignment 4) and the
// workgroup-tiled kernel (128×64 tiles, 16×8 per invocation, K in steps of 16).
const PATHS = [
  { name: 'subgroup', subgroups: true, kernel: 'gemm.subgroup' },
  { name: 'tiled', subgroups: false, kernel: 'gemm.tiled' },
];

/** The kernel names `fn` dispatches (to prove which path ran). */
function kernelsRun(fn: () => void): string[] {
  const names: string[] = [];
  const run = ctx.run.bind(ctx);
  ctx.run = (spec, ...rest) => {
    names.push(spec.name);
    return run(spec, ...rest);
  };
  try {
    fn();
  } finally {
    ctx.run = run;
  }
  return names;
}

const TRANSPOSES = [
  { transA: false, transB: false },
  { transA: true, transB: false },
  { transA: false, transB: true },
  { transA: true, transB: true },
];

// [M, K, N]: 1, primes, tile multiples and tile ± 1 for both kernels, in each dimension
// (rows 16 and 128, columns 8 and 64, K steps of 8 and 16, vec4 alignment 4).
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 31],
  [13, 31, 7],
  [31, 7, 13],
  [16, 8, 8],
  [15, 7, 9],
  [17, 9, 7],
  [64, 16, 64],
  [63, 15, 63],
  [65, 17, 65],
  [128, 32, 64],
  [127, 31, 129],
  [129, 33, 65],
  [1, 257, 1],
  [130, 1, 3],
  [3, 5, 130],
  [33, 9, 132], // N > 64 and a multiple of 4: 16 columns per invocation on the subgroup path
  [17, 16, 68],
  [33, 24, 100], // K a multiple of 8 (constant inner loop, two k per step), N past 64, partial lanes
  [7, 1024, 9], // split-K: 4 chunks of 256
  [40, 771, 33], // split-K: 3 chunks of 257 (odd), transposed B copied
  [5, 1031, 6], // K prime: no split
];

function stored(M: number, K: number, N: number, transA: boolean, transB: boolean): [number[], number[]] {
  return [transA ? [K, M] : [M, K], transB ? [N, K] : [K, N]];
}

const refOf = (data: Float32Array, shape: number[]): RefArray => ({ data: Float64Array.from(data), shape });

test('split-K plan: long reductions over few output tiles, in equal chunks of at least 256', () => {
  const cases: [number, number, number, number][] = [
    // [M, N, K, splits] with subgroups of 8 (tiles of 64 rows × 64 columns)
    [64, 64, 4096, 8],
    [7, 9, 1024, 4],
    [40, 33, 771, 3],
    [6, 10, 1200, 4],
    [5, 6, 1031, 1], // prime K
    [64, 64, 511, 1], // too short
    [512, 512, 4096, 1], // 64 tiles already
  ];
  for (const [M, N, K, splits] of cases) {
    const got = splitKFor(8, M, N, K);
    if (got !== splits) throw new Error(`splitKFor(8, ${M}, ${N}, ${K}) = ${got}, expected ${splits}`);
  }
  if (splitKFor(8, 64, 64, 4096, 2) !== 1) throw new Error('a batched product was split');
  if (splitKFor(8, 64, 64, 4096, 1, true) !== 1) throw new Error('an accumulating product was split');
  if (splitKFor(8, 64, 64, 4096, 1, false, { offset: 4, ld: 64 }) !== 1) throw new Error('a product into an offset C was split');
});

for (const path of PATHS) {
  test(`matmul forward (${path.name} kernel): sizes 1, primes, tile multiples ± 1, all four transposes`, async () => {
    await onPath(path.subgroups, async () => {
      const g = caseGenerator();
      for (const [M, K, N] of SHAPES) {
        for (const flags of TRANSPOSES) {
          const [sa, sb] = stored(M, K, N, flags.transA, flags.transB);
          const ha = randomArray(g, M * K);
          const hb = randomArray(g, K * N);
          const a = fromArray(ha, sa);
          const b = fromArray(hb, sb);
          let c: Tensor | undefined;
          const names = kernelsRun(() => (c = matmul(a, b, flags)));
          // on the subgroup path a transposed B is first copied row-major when M is large enough,
          // and a long K over few output tiles is split, the partial products summed at the end
          const copied = path.subgroups && flags.transB && M >= TRANSPOSE_B_MIN_ROWS;
          const split = path.subgroups && splitKFor(ctx.subgroupSize!, M, N, K) > 1;
          const kernels = [...(copied ? ['transpose'] : []), path.kernel, ...(split ? ['reduce.sum.columns'] : [])];
          const ok = names.length === kernels.length && names.every((n, i) => n.startsWith(kernels[i]!));
          if (!ok) throw new Error(`expected ${kernels}, got ${names}`);
          const expected = refMatmul(refOf(ha, sa), refOf(hb, sb), flags);
          assertClose(await c!.toArray(), expected.data, tol(K), `matmul ${M}x${K}x${N} ${JSON.stringify(flags)}`);
          if (c!.shape.join() !== [M, N].join()) throw new Error(`matmul output shape [${c!.shape}], expected [${M}, ${N}]`);
          [a, b, c!].forEach((t) => t.dispose());
        }
      }
    });
  });

  test(`bmm forward (${path.name} kernel): batches, broadcast batch on either side, all four transposes`, async () => {
    await onPath(path.subgroups, async () => {
      const g = caseGenerator();
      const cases: [number, number, number, number, number][] = [
        // [batchA, batchB, M, K, N]
        [3, 3, 7, 13, 31],
        [1, 4, 17, 9, 65],
        [5, 1, 33, 17, 7],
        [2, 2, 129, 8, 64],
        [1, 1, 5, 3, 2],
      ];
      for (const [ba, bb, M, K, N] of cases) {
        for (const flags of TRANSPOSES) {
          const [sa, sb] = stored(M, K, N, flags.transA, flags.transB);
          const ha = randomArray(g, ba * M * K);
          const hb = randomArray(g, bb * K * N);
          const a = fromArray(ha, [ba, ...sa]);
          const b = fromArray(hb, [bb, ...sb]);
          const c = bmm(a, b, flags);
          const expected = refMatmul(refOf(ha, [ba, ...sa]), refOf(hb, [bb, ...sb]), flags);
          if (c.shape.join() !== expected.shape.join()) throw new Error(`bmm output shape [${c.shape}], expected [${expected.shape}]`);
          assertClose(await c.toArray(), expected.data, tol(K), `bmm ${ba}|${bb} ${M}x${K}x${N} ${JSON.stringify(flags)}`);
          [a, b, c].forEach((t) => t.dispose());
        }
      }
    });
  });

  test(`matmul and bmm backward vs finite differences (${path.name} kernel)`, async () => {
    await onPath(path.subgroups, async () => {
      const fd = { rtol: 1e-3, atol: 1e-4 };
      for (const flags of TRANSPOSES) {
        const [sa, sb] = stored(3, 5, 4, flags.transA, flags.transB);
        await checkOp({
          name: `matmul ${JSON.stringify(flags)}`,
          shapes: [sa, sb],
          gpu: (a, b) => matmul(a, b, flags),
          cpu: (a, b) => refMatmul(a, b, flags),
          forward: tol(5),
          backward: fd,
        });
        for (const [ba, bb] of [[2, 2], [1, 3], [3, 1]]) {
          await checkOp({
            name: `bmm ${ba}|${bb} ${JSON.stringify(flags)}`,
            shapes: [[ba!, ...sa], [bb!, ...sb]],
            gpu: (a, b) => bmm(a, b, flags),
            cpu: (a, b) => refMatmul(a, b, flags),
            forward: tol(5),
            backward: fd,
          });
        }
      }
      // Only one operand requires a gradient; and x·x (both edges on one tensor).
      await checkOp({
        name: 'matmul, only b requires grad',
        shapes: [[4, 6], [6, 3]],
        gpu: (a, b) => matmul(a, b),
        cpu: (a, b) => refMatmul(a, b),
        forward: tol(6),
        requiresGrad: [false, true],
      });
      await checkOp({
        name: 'matmul x·xᵀ',
        shapes: [[3, 5]],
        gpu: (x) => matmul(x, x, { transB: true }),
        cpu: (x) => refMatmul(x, x, { transB: true }),
        forward: tol(5),
      });
    });
  });

  test(`matmul and bmm backward vs the analytic CPU backward, larger shapes (${path.name} kernel)`, async () => {
    await onPath(path.subgroups, async () => {
      const g = caseGenerator();
      // [batchA, batchB, M, K, N]; batch 0 means a 2-D matmul.
      const cases: [number, number, number, number, number][] = [
        [0, 0, 67, 45, 33],
        [0, 0, 129, 8, 65],
        [4, 4, 33, 20, 17],
        [1, 5, 33, 20, 17], // A broadcast: per-batch products summed
        [5, 1, 33, 20, 17], // B broadcast: one GEMM over the folded batch (plain A) or summed (transA)
      ];
      for (const [ba, bb, M, K, N] of cases) {
        for (const flags of TRANSPOSES) {
          const [sa0, sb0] = stored(M, K, N, flags.transA, flags.transB);
          const sa = ba ? [ba, ...sa0] : sa0;
          const sb = bb ? [bb, ...sb0] : sb0;
          const batch = Math.max(ba, bb, 1);
          const ha = randomArray(g, Math.max(ba, 1) * M * K);
          const hb = randomArray(g, Math.max(bb, 1) * K * N);
          const hg = randomArray(g, batch * M * N);
          const a = fromArray(ha, sa, { requiresGrad: true });
          const b = fromArray(hb, sb, { requiresGrad: true });
          const y = ba ? bmm(a, b, flags) : matmul(a, b, flags);
          const gy = fromArray(hg, y.shape);
          y.backward(gy);
          const ref = refMatmulBackward(refOf(ha, sa), refOf(hb, sb), refOf(hg, [...y.shape]), flags);
          const label = `${ba}|${bb} ${M}x${K}x${N} ${JSON.stringify(flags)}`;
          // dA sums over N (and the batch when A is broadcast), dB over M (and the batch).
          assertClose(await a.grad!.toArray(), ref.gradA.data, tol(N * (ba === batch ? 1 : batch)), `grad a ${label}`);
          assertClose(await b.grad!.toArray(), ref.gradB.data, tol(M * (bb === batch ? 1 : batch)), `grad b ${label}`);
          [a, b, y, gy].forEach((t) => t.dispose());
        }
      }
    });
  });
}

test('the subgroup GEMM draws its tiles by tickets: exact with 1 and 3 workgroups per launch and one per tile, counters back at zero', async () => {
  // The default launch on lavapipe has one workgroup per shader thread (the tests above); here one
  // workgroup draws every tile, three split them unevenly, and one per tile (a hardware GPU) draws
  // about one tile each; tiles go in bands of row tiles (the last band may be shorter). Several launches per batch, so a launch that left the counters off zero would make
  // the next one skip tiles.
  const counters = async () => [...new Uint32Array(await ctx.read(ctx.ticketCounters()))];
  const saved = ctx.concurrentWorkgroups;
  const g = caseGenerator();
  try {
    await onPath(true, async () => {
      for (const groups of [1, 3, 0]) {
        ctx.concurrentWorkgroups = groups;
        // [batch, M, K, N]; with K = 1031 and N = 65, B is 268 KB and a band holds 3 row tiles (16
        // rows of 1031 floats each within 256 KB), so the 10 row tiles of M = 145 end in a band of one
        for (const [batch, M, K, N] of [[1, 129, 33, 65], [3, 17, 16, 68], [5, 33, 24, 100], [1, 7, 1024, 9], [2, 145, 1031, 65]] as const) {
          const flags = { transA: false, transB: false };
          const ha = randomArray(g, batch * M * K);
          const hb = randomArray(g, batch * K * N);
          const a = fromArray(ha, [batch, M, K]);
          const b = fromArray(hb, [batch, K, N]);
          const c = bmm(a, b, flags);
          const expected = refMatmul(refOf(ha, [batch, M, K]), refOf(hb, [batch, K, N]), flags);
          assertClose(await c.toArray(), expected.data, tol(K), `bmm ${batch}×${M}x${K}x${N} with ${groups} workgroups`);
          [a, b, c].forEach((t) => t.dispose());
        }
        const got = await counters();
        if (got.some((v) => v !== 0)) throw new Error(`${groups} workgroups: counters [${got}] after the launches, expected zeros`);
      }
    });
  } finally {
    ctx.concurrentWorkgroups = saved;
  }
});

test('backward computes only the gradients that are needed (one GEMM per needed gradient)', async () => {
  const g = caseGenerator();
  for (const needA of [true, false]) {
    for (const needB of [true, false]) {
      if (!needA && !needB) continue;
      const a = fromArray(randomArray(g, 6 * 5), [6, 5], { requiresGrad: needA });
      const b = fromArray(randomArray(g, 5 * 4), [5, 4], { requiresGrad: needB });
      const y = matmul(a, b);
      const gy = fromArray(randomArray(g, 24), [6, 4]);
      const names = kernelsRun(() => y.backward(gy));
      const expected = Number(needA) + Number(needB);
      if (names.length !== expected || !names.every((n) => n.startsWith('gemm.'))) {
        throw new Error(`needA ${needA}, needB ${needB}: backward ran [${names}], expected ${expected} GEMMs`);
      }
      if (!needA && a.grad) throw new Error('a got a gradient it does not require');
      if (!needB && b.grad) throw new Error('b got a gradient it does not require');
      await ctx.sync();
      [a, b, y, gy].forEach((t) => t.dispose());
    }
  }
});

// gemm on views: matrices at offsets inside larger buffers, padded rows (ld > row length),
// batch strides (0 = broadcast), alpha and accumulate; the gaps between rows are NaN, so a kernel
// that reads outside a matrix (and lets it reach a stored value) fails, and C's gaps must keep
// their sentinel. Aligned layouts take the vec4 paths, odd ones the scalar paths.
for (const path of PATHS) {
  test(`gemm on strided batched views, alpha, accumulate, broadcast strides (${path.name} kernel)`, async () => {
    await onPath(path.subgroups, async () => {
      const g = caseGenerator();
      const up4 = (x: number) => Math.ceil(x / 4) * 4;
      // ld: the row stride of A, B, C given the stored row length; extra: added to each batch stride.
      type Ld = (rowLength: number) => number;
      const layouts: { name: string; batch: number; M: number; N: number; K: number; ld: [Ld, Ld, Ld]; off: number[]; extra: number; bcast: 'A' | 'B' | '' }[] = [
        { name: 'B and C vec4-aligned', batch: 3, M: 19, N: 12, K: 20, ld: [(n) => up4(n + 1), (n) => up4(n + 1), (n) => up4(n + 1)], off: [8, 4, 12], extra: 4, bcast: '' },
        // K a multiple of 8 and A's rows 4-aligned: A read as vec4 on the subgroup path (along K, or
        // along M when transposed: its padded rows are NaN, so a wrong row would reach C)
        { name: 'A, B and C vec4-aligned, K a multiple of 8', batch: 3, M: 21, N: 12, K: 24, ld: [(n) => up4(n + 1), (n) => up4(n + 1), (n) => up4(n + 1)], off: [8, 4, 12], extra: 4, bcast: '' },
        { name: 'nothing aligned', batch: 2, M: 9, N: 7, K: 11, ld: [(n) => n + 3, (n) => n + 3, (n) => n + 3], off: [5, 3, 1], extra: 3, bcast: '' },
        { name: 'B aligned, C not', batch: 2, M: 6, N: 7, K: 9, ld: [(n) => n, (n) => up4(n + 1), (n) => n + 2], off: [1, 4, 3], extra: 4, bcast: '' },
        { name: 'C aligned, B not', batch: 2, M: 6, N: 8, K: 9, ld: [(n) => n + 1, (n) => n + 1, () => 12], off: [0, 1, 4], extra: 4, bcast: '' },
        { name: 'broadcast A', batch: 3, M: 17, N: 16, K: 9, ld: [(n) => n, (n) => n, (n) => n], off: [0, 4, 0], extra: 0, bcast: 'A' },
        { name: 'broadcast B', batch: 4, M: 5, N: 9, K: 13, ld: [(n) => n + 1, (n) => n + 1, (n) => n + 1], off: [2, 0, 0], extra: 1, bcast: 'B' },
        { name: 'wide, B aligned, C not', batch: 2, M: 7, N: 70, K: 12, ld: [(n) => n, (n) => up4(n), (n) => n + 1], off: [0, 0, 1], extra: 4, bcast: '' },
        { name: 'wide, all aligned', batch: 2, M: 5, N: 72, K: 8, ld: [(n) => n, (n) => n, (n) => n], off: [0, 0, 0], extra: 0, bcast: '' },
        // M ≥ TRANSPOSE_B_MIN_ROWS: with transB, B is first copied row-major (from strided, offset views)
        { name: 'tall, nothing aligned', batch: 3, M: 33, N: 10, K: 7, ld: [(n) => n + 3, (n) => n + 1, (n) => n + 2], off: [1, 3, 2], extra: 3, bcast: '' },
        { name: 'tall, broadcast B', batch: 2, M: 41, N: 13, K: 6, ld: [(n) => n, (n) => n + 2, (n) => n], off: [0, 5, 0], extra: 0, bcast: 'B' },
        // one deep product into a dense C: split-K (4 chunks of 300) from strided, offset A and B
        { name: 'deep K, split', batch: 1, M: 6, N: 10, K: 1200, ld: [(n) => n + 3, (n) => n + 1, (n) => n], off: [2, 3, 0], extra: 0, bcast: '' },
      ];
      for (const L of layouts) {
        for (const flags of TRANSPOSES) {
          // accumulate compiles its own kernels (slow on lavapipe): covered with vec4 and scalar C,
          // plain and doubly transposed operands, on each kernel path.
          const accumulates =
            (['B and C vec4-aligned', 'nothing aligned'].includes(L.name) && flags.transA === flags.transB) ||
            (L.name.startsWith('wide') && !flags.transA && !flags.transB);
          const extras = [{ alpha: 1, accumulate: false }, { alpha: -0.5, accumulate: false }];
          if (accumulates) extras.push({ alpha: 0.75, accumulate: true });
          for (const extra of extras) {
            const { batch, M, N, K } = L;
            const [ra, ca] = flags.transA ? [K, M] : [M, K];
            const [rb, cb] = flags.transB ? [N, K] : [K, N];
            const d: RefGemmDims = {
              batch, M, N, K,
              lda: L.ld[0](ca), ldb: L.ld[1](cb), ldc: L.ld[2](N),
              offsetA: L.off[0]!, offsetB: L.off[1]!, offsetC: L.off[2]!,
              strideA: 0, strideB: 0, strideC: 0,
            };
            d.strideA = L.bcast === 'A' ? 0 : ra * d.lda + L.extra;
            d.strideB = L.bcast === 'B' ? 0 : rb * d.ldb + L.extra;
            d.strideC = M * d.ldc + L.extra;
            const fill = (n: number, rows: number, cols: number, ld: number, off: number, stride: number, count: number, gap: number) => {
              const data = new Float32Array(n).fill(gap);
              for (let bi = 0; bi < count; bi++)
                for (let r = 0; r < rows; r++)
                  for (let c = 0; c < cols; c++) data[off + bi * stride + r * ld + c] = g.normal();
              return data;
            };
            const nA = d.offsetA + (L.bcast === 'A' ? 1 : batch) * (d.strideA || ra * d.lda) + 7;
            const nB = d.offsetB + (L.bcast === 'B' ? 1 : batch) * (d.strideB || rb * d.ldb) + 5;
            const nC = d.offsetC + batch * d.strideC + 3;
            const ha = fill(nA, ra, ca, d.lda, d.offsetA, d.strideA, L.bcast === 'A' ? 1 : batch, NaN);
            const hb = fill(nB, rb, cb, d.ldb, d.offsetB, d.strideB, L.bcast === 'B' ? 1 : batch, NaN);
            const hc = fill(nC, M, N, d.ldc, d.offsetC, d.strideC, batch, 12345);
            const [a, b, c] = [fromArray(ha), fromArray(hb), fromArray(hc)];
            const names = kernelsRun(() => gemm(ctx, rangeOf(a), rangeOf(b), rangeOf(c), d, { ...flags, ...extra }));
            // on the subgroup path a transposed B is first copied row-major when M is large enough,
            // and a long K over few output tiles is split, the partial products summed at the end
            const copied = path.subgroups && flags.transB && M >= TRANSPOSE_B_MIN_ROWS;
            const split = path.subgroups && splitKFor(ctx.subgroupSize!, M, N, K, batch, extra.accumulate, { offset: d.offsetC, ld: d.ldc }) > 1;
            const kernels = [...(copied ? ['transpose'] : []), path.kernel, ...(split ? ['reduce.sum.columns'] : [])];
            const ok = names.length === kernels.length && names.every((n, i) => n.startsWith(kernels[i]!));
            if (!ok) throw new Error(`expected ${kernels}, got ${names}`);
            const expected = Float64Array.from(hc);
            refGemm(ha, hb, expected, d, { ...flags, ...extra });
            assertClose(await c.toArray(), expected, tol(K), `gemm ${L.name} ${JSON.stringify(flags)} ${JSON.stringify(extra)}`);
            [a, b, c].forEach((t) => t.dispose());
          }
        }
      }
    });
  });

  test(`launches smaller than the work cover every batch, and grids stay within 65535 (${path.name} kernel)`, async () => {
    await onPath(path.subgroups, async () => {
      // 65536+ workgroups take seconds on a CPU adapter, so the launch is cut here and the dispatch
      // rule's cap is checked alone: the tiled kernel to a z size of 2 (it loops over the other
      // batches), the subgroup kernel to one workgroup (its subgroups draw every tile by tickets).
      const g = caseGenerator();
      const [batch, M, K, N] = [7, 5, 3, 6];
      const ha = randomArray(g, batch * M * K);
      const hb = randomArray(g, batch * K * N);
      const [a, b, c] = [fromArray(ha, [batch, M, K]), fromArray(hb, [batch, K, N]), fromArray(new Float32Array(batch * M * N))];
      const run = ctx.run.bind(ctx);
      let spec: KernelSpec | null = null;
      ctx.run = (s, buffers, uniforms, groups) => {
        spec = s;
        const [x, y, z] = groups ?? s.dispatch(uniforms ?? {});
        return run(s, buffers, uniforms, path.subgroups ? [1, y, z] : [x, y, Math.min(z, 2)]);
      };
      try {
        gemm(ctx, rangeOf(a), rangeOf(b), rangeOf(c), { batch, M, N, K });
      } finally {
        ctx.run = run;
      }
      const expected = refMatmul(refOf(ha, [batch, M, K]), refOf(hb, [batch, K, N]));
      assertClose(await c.toArray(), expected.data, tol(K), `gemm batch ${batch} on a cut launch`);
      const huge = (spec as KernelSpec | null)!.dispatch({ M, N, K, batch: 100000, tiles: 1e6 });
      const capped = path.subgroups ? huge[0] === 65535 : huge[2] === 65535;
      if (!capped || huge.some((d) => d > 65535)) throw new Error(`a huge launch dispatches [${huge}], expected the cap 65535`);
      [a, b, c].forEach((t) => t.dispose());
    });
  });
}

test('K = 0 gives zeros, and empty outputs are allowed', async () => {
  for (const path of PATHS) {
    await onPath(path.subgroups, async () => {
      const a = fromArray(new Float32Array(0), [3, 0]);
      const b = fromArray(new Float32Array(0), [0, 5]);
      const c = matmul(a, b);
      assertClose(await c.toArray(), new Float64Array(15), { rtol: 0, atol: 0 }, `${path.name} K=0`);
      const e = matmul(fromArray([], [0, 2]), fromArray([1, 2, 3, 4], [2, 2]));
      if (e.shape.join() !== '0,2') throw new Error(`empty product has shape [${e.shape}]`);
      [a, b, c, e].forEach((t) => t.dispose());
    });
  }
});

test('bad inputs throw errors naming the op, the shapes and what was expected', () => {
  const before = liveTensorCount();
  const t = (shape: number[]) => fromArray(new Float32Array(shape.reduce((x, y) => x * y, 1)), shape);
  const [a23, a34, a33, v3] = [t([2, 3]), t([3, 4]), t([3, 3]), t([3])];
  const [b234, b245, b345, b134] = [t([2, 3, 4]), t([2, 4, 5]), t([3, 4, 5]), t([1, 3, 4])];
  assertThrows(() => matmul(v3, a34), 'matmul', '[3]', '[3, 4]', '2-D');
  assertThrows(() => matmul(a23, b234), 'matmul', '[2, 3]', '[2, 3, 4]', '2-D');
  assertThrows(() => matmul(a23, a23), 'matmul', 'inner sizes differ', '[2, 3]');
  assertThrows(() => matmul(a23, a34, { transA: true }), 'matmul', 'inner sizes differ', '[2, 3] (transposed)', '[3, 4]');
  assertThrows(() => matmul(a23, a34, { transB: true }), 'matmul', 'inner sizes differ', '[3, 4] (transposed)');
  assertThrows(() => matmul(a23, a34, { transpose: true } as never), 'matmul', 'unknown option');
  assertThrows(() => matmul(a23, a34, { transA: 1 } as never), 'matmul', 'transA', 'boolean');
  assertThrows(() => bmm(a23, a34), 'bmm', '[2, 3]', '[3, 4]', '3-D');
  assertThrows(() => bmm(b234, b345), 'bmm', 'batch sizes differ', '[2, 3, 4]', '[3, 4, 5]');
  assertThrows(() => bmm(b234, b134), 'bmm', 'inner sizes differ', '[2, 3, 4]', '[1, 3, 4]');
  assertThrows(() => matmul(a33, 'x' as never), 'matmul', 'expected a Tensor');
  const dead = t([3, 4]);
  dead.dispose();
  assertThrows(() => matmul(a23, dead), 'matmul', /\[3, ?4\]/, 'dispose');
  const deadBatch = t([2, 3, 4]);
  deadBatch.dispose();
  assertThrows(() => bmm(deadBatch, b245), 'bmm', /\[2, ?3, ?4\]/, 'dispose');
  [a23, a34, a33, v3, b234, b245, b345, b134].forEach((x) => x.dispose());
  if (liveTensorCount() !== before) throw new Error(`${liveTensorCount() - before} tensors leaked`);
});

test('gemm writes batches interleaved row by row (the Winograd layout), on both kernel paths', async () => {
  const g = caseGenerator();
  for (const subgroups of [true, false]) {
    await onPath(subgroups, async () => {
      for (const [batch, M, N, K] of [[3, 5, 4, 7], [4, 9, 6, 5], [36, 3, 8, 4]] as const) {
        // Row r of matrix b lives at r·(batch·cols + pad) + b·cols, in A and in C.
        const d: RefGemmDims = {
          batch, M, N, K,
          lda: batch * K + 1, ldb: N, ldc: batch * N + 2,
          offsetA: 0, offsetB: 0, offsetC: 0,
          strideA: K, strideB: K * N, strideC: N,
        };
        const ha = randomArray(g, M * d.lda);
        const hb = randomArray(g, batch * K * N);
        const hc = new Float32Array(M * d.ldc).fill(7);
        const [a, b, c] = [fromArray(ha), fromArray(hb), fromArray(hc)];
        gemm(ctx, rangeOf(a), rangeOf(b), rangeOf(c), d);
        const expected = Float64Array.from(hc);
        refGemm(ha, hb, expected, d, {});
        assertClose(await c.toArray(), expected, tol(K), `interleaved gemm batch ${batch} ${M}x${K}x${N} [subgroups ${subgroups}]`);
        [a, b, c].forEach((t) => t.dispose());
      }
    });
  }
});

test('gemm rejects layouts that do not fit', () => {
  const x = fromArray(new Float32Array(12), [12]);
  const y = fromArray(new Float32Array(12), [12]);
  const z = fromArray(new Float32Array(12), [12]);
  const [rx, ry, rz] = [rangeOf(x), rangeOf(y), rangeOf(z)];
  assertThrows(() => gemm(ctx, rx, ry, rz, { M: 4, N: 4, K: 4 }), 'gemm', 'A needs 16 floats', 'holds');
  assertThrows(() => gemm(ctx, rx, ry, rz, { M: 3, N: 4, K: 3, lda: 2 }), 'gemm', 'lda = 2', 'row length 3');
  assertThrows(() => gemm(ctx, rx, ry, rz, { batch: 2, M: 2, N: 2, K: 2, strideC: 0 }), 'gemm', 'strideC', 'overlap');
  // Interleaved rows that overlap: matrix 1's rows start inside matrix 0's (strideC < N), or run
  // past the row block (ldc too small for 2 interleaved rows of 3).
  assertThrows(() => gemm(ctx, rx, ry, rz, { batch: 2, M: 2, N: 3, K: 1, ldc: 6, strideC: 2 }), 'gemm', 'strideC = 2', 'overlap');
  assertThrows(() => gemm(ctx, rx, ry, rz, { batch: 2, M: 2, N: 3, K: 1, ldc: 5, strideC: 3 }), 'gemm', 'strideC = 3', 'overlap');
  assertThrows(() => gemm(ctx, rx, ry, rx, { M: 2, N: 2, K: 2 }), 'gemm', 'overlaps an input');
  assertThrows(() => gemm(ctx, rx, ry, rz, { M: 2.5, N: 2, K: 2 }), 'gemm', 'M must be an integer');
  assertThrows(() => gemm(ctx, rx, ry, rz, { M: 2, N: 2, K: 2 }, { alpha: NaN }), 'gemm', 'alpha');
  [x, y, z].forEach((t) => t.dispose());
});

test.run();
