// The Node examples in examples/ run as a user runs them: `node examples/<name>.mjs`, importing
// 'wgtensor/node' (which resolves to the built dist/ through the package's own exports). Each
// example checks its own results and exits non-zero when one is off.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildDist, repoRoot } from './helpers/dist';

const run = promisify(execFile);

async function runExample(file: string, args: string[] = []): Promise<string> {
  await buildDist();
  try {
    const { stdout } = await run(process.execPath, [join(repoRoot, 'examples', file), ...args], { cwd: repoRoot, timeout: 120_000 });
    return stdout;
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`node examples/${file} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

test('every Node example is covered here', () => {
  const examples = readdirSync(join(repoRoot, 'examples')).filter((f) => f.endsWith('.mjs')).sort();
  assert.equal(examples, ['node-basics.mjs', 'node-train-checkpoint.mjs']);
});

test('examples/node-basics.mjs: tensors, ops, autograd, memory', async () => {
  const out = await runExample('node-basics.mjs');
  assert.match(out, /dy\/dx = 2x \+ \[x > 0\]: \[2,-2,5\]/);
  assert.match(out, /node-basics: ok/);
});

test('examples/node-train-checkpoint.mjs: training loop, checkpoint saved and restored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgtensor-examples-'));
  try {
    const path = join(dir, 'spirals.safetensors');
    const out = await runExample('node-train-checkpoint.mjs', [path]);
    assert.ok(existsSync(path), 'the checkpoint file was written');
    const [, first, last] = /loss ([\d.]+) → ([\d.]+)/.exec(out) ?? [];
    assert.ok(Number(last) < 0.5 * Number(first), `the loss fell by more than half (${first} → ${last})`);
    assert.match(out, /max output difference 0\b/);
    assert.match(out, /node-train-checkpoint: ok/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
