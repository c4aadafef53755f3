// GpuContext bookkeeping that caches rely on: the write stamp of a buffer changes with every
// recorded command that writes it (a dispatch binding it read_write, a copy or clear into it, an
// upload) and with nothing else; the workgroups a device runs at once, for kernels that hand out
// their tiles by tickets.
import { availableParallelism } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GpuContext } from '../lib/index';
import { gridStrideKernel, u32Fields } from '../kernels/spec';
import { ctx } from './helpers/gpu';

test('a software adapter runs as many workgroups at once as it has shader threads; the option is checked', () => {
  // lavapipe (architecture 'software'): one shader thread per core unless LP_NUM_THREADS says
  // otherwise. A hardware GPU: unknown (0), one workgroup per tile.
  const threads = Math.floor(Number(process.env.LP_NUM_THREADS)) || availableParallelism();
  assert.is(ctx.concurrentWorkgroups, ctx.adapter.architecture === 'software' ? threads : 0);
  for (const bad of [-1, 1.5, Number.NaN]) {
    assert.throws(() => new GpuContext(ctx.device, { concurrentWorkgroups: bad }), /concurrentWorkgroups must be a whole number ≥ 0/);
    assert.throws(() => (ctx.concurrentWorkgroups = bad), /concurrentWorkgroups must be a whole number ≥ 0/);
  }
  assert.is(ctx.concurrentWorkgroups, ctx.adapter.architecture === 'software' ? threads : 0, 'unchanged by the refused values');
});

const copyKernel = gridStrideKernel({
  key: 'test.stamp-copy',
  name: 'test.stamp-copy',
  uniforms: u32Fields('total'),
  bindings: [
    { name: 'src', access: 'read' },
    { name: 'dst', access: 'read_write' },
  ],
  body: ['dst[idx] = src[idx] + 1.0;'],
});

test('write stamps change with every recorded write of a buffer and only then', async () => {
  const a = ctx.alloc(64);
  const b = ctx.alloc(64);
  const stamps = () => [ctx.writeStamp(a.buffer), ctx.writeStamp(b.buffer)] as const;
  const step = (what: string, fn: () => void, aChanges: boolean, bChanges: boolean) => {
    const [a0, b0] = stamps();
    fn();
    const [a1, b1] = stamps();
    assert.is(a1 !== a0, aChanges, `${what}: stamp of a ${a0} → ${a1}`);
    assert.is(b1 !== b0, bChanges, `${what}: stamp of b ${b0} → ${b1}`);
  };
  try {
    step('upload into a', () => ctx.upload(a, new Float32Array(16).fill(1)), true, false);
    step('a kernel reading a, writing b', () => ctx.run(copyKernel, [a, b], { total: 16 }), false, true);
    step('the same kernel again', () => ctx.run(copyKernel, [a, b], { total: 16 }), false, true);
    step('a kernel with an empty grid', () => ctx.run(copyKernel, [a, b], { total: 16 }, [0, 1, 1]), false, false);
    step('a copy of b into a', () => ctx.copy(b, a), true, false);
    step('clearing b', () => ctx.clear(b), false, true);
    step('an upload into a buffer the open batch uses (staged)', () => ctx.upload(b, new Float32Array(16).fill(3)), false, true);
    let readback: Promise<ArrayBuffer> | null = null;
    step('a readback of a', () => void (readback = ctx.read(a)), false, false);
    assert.equal(Array.from(new Float32Array(await readback!)), new Array(16).fill(2), 'a holds the copy of b (1 + 1)');
    step('a flush', () => ctx.flush(), false, false);
  } finally {
    ctx.free(a);
    ctx.free(b);
  }
});

test.run();
