// The npm package as its users get it: `npm pack` ships only the bundles, their types, README,
// LICENSE and package.json; the browser bundle carries no Node import; the packed tarball installs
// into an empty folder (dependencies from the npm cache when they are there), where a Node example,
// the `moco` command and a TypeScript consumer (node16 and bundler resolution) all work; and the
// API reference (`npm run docs`) builds without a warning.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildDist, repoRoot } from './helpers/dist';

const execFileAsync = promisify(execFile);

async function run(command: string, args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, args, { cwd, timeout: 180_000, maxBuffer: 64 << 20 });
    return stdout;
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** What users need, and nothing else: the shipped files match one of these. */
const ALLOWED = [
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^dist\/(index|node|moco)\.js(\.map)?$/,
  /^dist\/types\/(lib|kernels)\/[\w/.-]+\.d\.ts$/,
];
const REQUIRED = [
  'package.json', 'README.md', 'LICENSE',
  'dist/index.js', 'dist/node.js', 'dist/moco.js',
  'dist/types/lib/index.d.ts', 'dist/types/lib/node.d.ts',
];

interface PackInfo {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

async function pack(args: string[]): Promise<PackInfo> {
  await buildDist();
  const out = await run('npm', ['pack', '--json', '--ignore-scripts', ...args], repoRoot);
  return (JSON.parse(out) as PackInfo[])[0]!;
}

test('npm pack --dry-run lists only the bundles, their types, README, LICENSE and package.json', async () => {
  const info = await pack(['--dry-run']);
  const files = info.files.map((f) => f.path).sort();
  const unexpected = files.filter((f) => !ALLOWED.some((re) => re.test(f)));
  assert.equal(unexpected, [], `files users do not need: ${unexpected.join(', ')}`);
  for (const f of REQUIRED) assert.ok(files.includes(f), `${f} is shipped`);
  for (const f of files) assert.not.match(f, /(^|\/)(test|tests|fixtures|golden|data|bench|scratch|examples|moco|node_modules)\//);
  const top = files.filter((f) => !f.startsWith('dist/types/'));
  console.log(`    npm pack: ${files.length} files, ${info.size} bytes packed (${info.unpackedSize} unpacked): ${top.join(', ')} and ${files.length - top.length} declaration files under dist/types/{lib,kernels}`);
});

test('the browser bundle imports nothing from Node and carries its WGSL; exports map both entries', async () => {
  await buildDist();
  const bundle = readFileSync(join(repoRoot, 'dist/index.js'), 'utf8');
  const imports = ts.preProcessFile(bundle, true, true).importedFiles.map((f) => f.fileName); // import, export from, import(), require()
  assert.equal(imports, [], `dist/index.js imports ${imports.join(', ')}`);
  assert.not.match(bundle, /\bprocess\.(env|argv|exit|on)\b|['"]node:/, 'dist/index.js touches no Node API');
  assert.match(bundle, /@compute @workgroup_size/, 'the kernels are inlined');
  const node = readFileSync(join(repoRoot, 'dist/node.js'), 'utf8');
  assert.match(node, /from ["']\.\/index\.js["']/, 'dist/node.js shares the library bundle instead of carrying a copy');
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { exports: Record<string, { types: string; default: string }>; bin: Record<string, string> };
  assert.equal(pkg.exports['.'], { types: './dist/types/lib/index.d.ts', default: './dist/index.js' });
  assert.equal(pkg.exports['./node'], { types: './dist/types/lib/node.d.ts', default: './dist/node.js' });
  for (const entry of ['.', './node']) {
    for (const file of Object.values(pkg.exports[entry]!)) assert.ok(existsSync(join(repoRoot, file)), `${file} exists`);
  }
  assert.is(pkg.bin.moco, 'dist/moco.js');
});

const CONSUMER_TS = `// A TypeScript project that uses the installed package.
import { initNode, fromArray, shutdown, type Tensor, type GpuContext } from 'wgtensor/node';
import { init, Sequential, Linear, ReLU, SGD, scope, type KernelSpec } from 'wgtensor';

const ctx: GpuContext = await initNode();
const device: GPUDevice = ctx.device;
const model = new Sequential(new Linear(2, 3), new ReLU());
const opt = new SGD(model.parameters(), { lr: 0.1 });
const y: Tensor = scope(() => model.forward(fromArray([1, 2], [1, 2])));
const value: number = (await y.toArray())[0]!;
const spec: KernelSpec | null = null;
export { device, opt, value, spec, init, shutdown };
`;

/**
 * Type-checks consumer.ts against the installed package: with the DOM lib (TypeScript 6's declares
 * the WebGPU types) and every .d.ts checked, or, as the README says for a project without it, with
 * @webgpu/types instead (skipLibCheck: @webgpu/types itself names a few DOM types).
 */
function typecheck(dir: string, resolution: 'node16' | 'bundler', dom = true): string[] {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: !dom,
    target: ts.ScriptTarget.ES2022,
    lib: dom ? ['lib.es2022.d.ts', 'lib.dom.d.ts'] : ['lib.es2022.d.ts'],
    types: dom ? [] : ['@webgpu/types'],
    ...(resolution === 'node16'
      ? { module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 }
      : { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }),
  };
  const program = ts.createProgram([join(dir, 'consumer.ts')], options);
  return ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

test('the packed tarball installs into an empty folder; an example, `moco` and a TypeScript consumer work there', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgtensor-package-'));
  try {
    const info = await pack(['--pack-destination', dir]);
    const project = join(dir, 'project');
    await run('mkdir', [project], dir);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, info.filename)], project);
    assert.ok(existsSync(join(project, 'node_modules/wgtensor/dist/index.js')), 'wgtensor is installed');
    assert.not.ok(existsSync(join(project, 'node_modules/wgtensor/test')), 'no tests were installed');

    copyFileSync(join(repoRoot, 'examples/node-basics.mjs'), join(project, 'node-basics.mjs'));
    const out = await run(process.execPath, ['node-basics.mjs'], project);
    assert.match(out, /node-basics: ok/);

    const help = await run(join(project, 'node_modules/.bin/moco'), ['--help'], project);
    assert.match(help, /moco train \[options\]/);

    writeFileSync(join(project, 'consumer.ts'), CONSUMER_TS);
    for (const resolution of ['node16', 'bundler'] as const) {
      assert.equal(typecheck(project, resolution), [], `a TypeScript consumer compiles against the shipped types (moduleResolution ${resolution})`);
    }
    assert.equal(typecheck(project, 'node16', false), [], 'a TypeScript consumer without the DOM lib compiles with @webgpu/types');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npm run docs (typedoc) builds the API reference of both entries without a warning', async () => {
  const out = mkdtempSync(join(tmpdir(), 'wgtensor-docs-'));
  try {
    // typedoc.json sets treatWarningsAsErrors: a broken link or a bad doc comment fails here.
    await run(process.execPath, [join(repoRoot, 'node_modules/typedoc/bin/typedoc'), '--out', out], repoRoot);
    for (const page of ['index.html', 'modules/index.html', 'modules/node.html', 'classes/index.Tensor.html', 'functions/node.initNode.html', 'functions/index.init.html']) {
      assert.ok(existsSync(join(out, page)), `docs/api/${page} was generated`);
    }
    assert.match(readFileSync(join(out, 'classes/index.Tensor.html'), 'utf8'), /requiresGrad/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
