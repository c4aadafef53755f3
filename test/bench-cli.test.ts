// The benchmark command as the issue specifies it: `bench <suite> --json` prints one JSON object a
// line with bench, shape, ms, GFLOP/s or GB/s and the adapter; `compare` adds TensorFlow.js's rows
// and a ratio line; bad options exit 2 with the usage. Run in a child process on the quick shapes
// with one timed repeat (this checks the command, not the speed).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

function bench(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/cli.ts', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Row {
  bench: string;
  shape: string;
  impl: string;
  ms: number;
  gflops?: number;
  gbps?: number;
  adapter: string;
  ratio?: number;
  peerMs?: number;
}

test('bench matmul --json: one JSON row a line with the fields the issue lists', () => {
  const r = bench(['matmul', '--quick', '--json', '--repeats', '1', '--warmup', '1', '--min-time', '0']);
  assert.is(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Row);
  assert.ok(rows.length >= 1, 'at least one row');
  for (const row of rows) {
    assert.ok(row.bench.startsWith('matmul') && row.shape.length > 0 && row.impl === 'ours', JSON.stringify(row));
    assert.ok(Number.isFinite(row.ms) && row.ms > 0, `ms: ${row.ms}`);
    assert.ok(Number.isFinite(row.gflops) && row.gflops! > 0, `gflops: ${row.gflops}`);
    assert.ok(row.adapter.length > 0, 'adapter');
  }
});

test('bench compare softmax --json: our row, the tfjs row and a ratio line per case', () => {
  const r = bench(['compare', 'softmax', '--quick', '--json', '--repeats', '1', '--warmup', '1', '--min-time', '0']);
  assert.is(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Row);
  const first = rows[0]!;
  const same = rows.filter((x) => x.bench === first.bench && x.shape === first.shape);
  assert.equal(same.map((x) => x.impl), ['ours', 'tfjs-webgpu', 'ours/tfjs-webgpu'], JSON.stringify(same));
  const [ours, theirs, ratio] = same as [Row, Row, Row];
  assert.ok(Number.isFinite(theirs.gbps) && theirs.gbps! > 0, `tfjs gbps: ${theirs.gbps}`);
  assert.is(ratio.ms, ours.ms);
  assert.is(ratio.peerMs, theirs.ms);
  assert.ok(Math.abs(ratio.ratio! - theirs.ms / ours.ms) < 0.01, `ratio ${ratio.ratio} vs ${theirs.ms / ours.ms}`);
});

test('bad arguments exit 2 with the usage', () => {
  for (const args of [['nosuch'], ['matmul', '--repeats', '0'], ['matmul', '--warmup', 'x']]) {
    const r = bench(args);
    assert.is(r.status, 2, `${args.join(' ')}: exit ${r.status}`);
    assert.match(r.stderr, /usage|must be an integer/, args.join(' '));
  }
});

test.run();
