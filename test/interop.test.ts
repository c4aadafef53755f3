// Checkpoints interoperate with PyTorch both ways (Debian's python3-torch for /usr/bin/python3,
// installed by `npm run setup`): a file our library writes loads into torchvision's resnet18 with
// load_state_dict(strict=True) and gives our logits; torchvision-initialised weights saved by PyTorch
// load into our model and give PyTorch's logits. Bad files are refused before any weight changes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeSafetensors, fromArray, loadSafetensors, randn, resnet18, saveSafetensors, scope, Generator, type ResNet } from '../lib/index';
import { assertClose, assertThrows } from './helpers/assert';
import { fixtureInput, loadGoldenFixture, type Stem } from './golden/fixture';
import './helpers/gpu';

const PYTHON = '/usr/bin/python3';
const script = new URL('./golden/interop.py', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'wgtensor-interop-'));

function python(args: string[]): { logits: number[]; shape: number[] } {
  const r = spawnSync(PYTHON, [script, ...args], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      `interop.py ${args[0]} failed (${r.error?.message ?? `exit ${r.status}`}). It needs python3-torch and python3-torchvision ` +
        `for /usr/bin/python3: run \`npm run setup\` (as root on Debian) or apt-get install python3-torch python3-torchvision.\n${r.stderr}`,
    );
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { logits: number[]; shape: number[] };
}

async function evalLogits(model: ResNet, stem: Stem): Promise<Float32Array> {
  const fx = loadGoldenFixture(stem);
  const x = fromArray(fixtureInput(fx), fx.inputShape);
  model.eval();
  const logits = scope(() => model.forward(x));
  const out = await logits.toArray();
  x.dispose();
  logits.dispose();
  return out;
}

const close = { rtol: 1e-4, atol: 1e-5 };

for (const stem of ['cifar', 'imagenet'] as const) {
  test(`${stem}: a file we write loads into torchvision's resnet18 (strict) and gives our logits`, async () => {
    const model = resnet18({ numClasses: 10, stem, generator: new Generator(7) });
    // One train-mode forward so the running stats saved are not the trivial 0 / 1.
    const batch = randn([4, 3, stem === 'cifar' ? 32 : 64, stem === 'cifar' ? 32 : 64], { generator: new Generator(8) });
    scope(() => model.train().forward(batch));
    batch.dispose();
    const file = join(dir, `ours-${stem}.safetensors`);
    writeFileSync(file, await saveSafetensors(model));
    const theirs = python(['load-ours', file, stem]);
    assertClose(await evalLogits(model, stem), theirs.logits, close, 'logits: ours vs torchvision on our file');
    model.dispose();
  });

  test(`${stem}: torchvision weights saved by PyTorch load into ours and give PyTorch's logits`, async () => {
    const file = join(dir, `torch-${stem}.safetensors`);
    const theirs = python(['save-torch', file, stem, '--seed', '3', '--train-forward']);
    // The whole state_dict, as PyTorch saves it: the 20 BatchNorm counters are int64 scalars.
    const counters = decodeSafetensors(readFileSync(file), { skip: () => true }).skipped;
    assert.is(counters.length, 20);
    for (const c of counters) assert.ok(c.name.endsWith('num_batches_tracked') && c.dtype === 'I64' && c.shape.length === 0, JSON.stringify(c));
    const model = resnet18({ numClasses: 10, stem });
    loadSafetensors(model, readFileSync(file));
    assertClose(await evalLogits(model, stem), theirs.logits, close, 'logits: ours vs torchvision on its file');
    model.dispose();
  });
}

test('a truncated, corrupt or mismatching file is refused and the weights stay as they were', async () => {
  const model = resnet18({ numClasses: 10, stem: 'cifar', generator: new Generator(1) });
  const good = await saveSafetensors(model);
  const before = await model.stateDict();
  const other = resnet18({ numClasses: 10, stem: 'imagenet', generator: new Generator(2) });
  const mismatched = await saveSafetensors(other);
  other.dispose();
  const corrupt = good.slice();
  corrupt[8] = 0x58; // the header's opening brace becomes 'X': not JSON any more
  assertThrows(() => loadSafetensors(model, good.slice(0, good.length - 100)), 'loadSafetensors');
  assertThrows(() => loadSafetensors(model, corrupt), 'loadSafetensors');
  assertThrows(() => loadSafetensors(model, mismatched), 'conv1.weight', '[64, 3, 7, 7]', '[64, 3, 3, 3]', 'nothing was loaded');
  const after = await model.stateDict();
  for (const [name, t] of before) assert.equal(Array.from(after.get(name)!.data), Array.from(t.data), `${name} changed`);
  model.dispose();
});

test('cleanup', () => rmSync(dir, { recursive: true, force: true }));

test.run();
