// Every ```ts and ```js code block between the library markers of README.md runs here, so the
// samples cannot rot. Each block is a module of its own, written to .cache/readme-samples/ inside
// the repository, where `import ... from 'wgtensor/node'` (or 'wgtensor') resolves through the
// package's own exports to the built dist/, exactly as in a project that installed the package.
// Each runs in a fresh Node process in an empty temporary folder; a block that imports only
// 'wgtensor' (browser code calling init()) gets a navigator.gpu from Dawn. A `// → text` comment
// on a line is what that line prints: the sample's output must be exactly those lines, in order
// (whitespace ignored). The TypeScript blocks are also type-checked together. Failures name the
// README line.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { buildDist, repoRoot } from './helpers/dist';

const START = '<!-- library:start -->';
const END = '<!-- library:end -->';
const SAMPLE_DIR = join(repoRoot, '.cache', 'readme-samples');
const README_SECTIONS = ['Getting a device', 'Tensors', 'Autograd', 'Memory', 'Modules', 'Optimizers', 'Checkpoints', 'Writing a custom kernel'];

interface Sample {
  /** README line (1-based) of the block's first code line. */
  line: number;
  lang: 'ts' | 'js';
  code: string;
  /** What the sample prints, from its `// →` comments, with their README lines. */
  expected: { line: number; text: string }[];
  section: string;
  file: string;
}

function extractSamples(readme: string): Sample[] {
  const lines = readme.split('\n');
  const start = lines.indexOf(START);
  const end = lines.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md: the library section (${START} … ${END}) is missing`);
  const samples: Sample[] = [];
  let section = '';
  for (let i = start + 1; i < end; i++) {
    const heading = /^#{2,4} (.+)$/.exec(lines[i]!);
    if (heading) section = heading[1]!;
    const fence = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!fence) continue;
    const close = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (close < 0 || close > end) throw new Error(`README.md:${i + 1}: code block is not closed`);
    const lang = { ts: 'ts', typescript: 'ts', js: 'js', javascript: 'js', mjs: 'js' }[fence[1]!] as 'ts' | 'js' | undefined;
    if (lang) {
      const body = lines.slice(i + 1, close);
      const line = i + 2;
      const expected = body.flatMap((l, k) => {
        const m = /\/\/ → (.*)$/.exec(l);
        return m ? [{ line: line + k, text: m[1]! }] : [];
      });
      const file = join(SAMPLE_DIR, `readme-L${line}.${lang === 'ts' ? 'ts' : 'mjs'}`);
      samples.push({ line, lang, code: body.join('\n') + '\n', expected, section, file });
    }
    i = close;
  }
  return samples;
}

const samples = extractSamples(readFileSync(join(repoRoot, 'README.md'), 'utf8'));

/** Rewrites sample file positions in `text` as README.md lines. */
function toReadmeLines(text: string): string {
  return text.replace(/(?:file:\/\/)?[^\s()]*readme-L(\d+)\.(?:ts|mjs):(\d+)(?::\d+)?/g, (_, first: string, n: string) => `README.md:${Number(first) + Number(n) - 1}`);
}

const normalize = (s: string) => s.replace(/\s+/g, '');

// Browser samples call init(), which reads navigator.gpu: give Node one from Dawn, made on first use.
const NAVIGATOR_PRELOAD = `import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
let gpu;
Object.defineProperty(globalThis, 'navigator', { configurable: true, get: () => ({ gpu: (gpu ??= create([])) }) });
`;

// Set up once, on first use inside a test (an error in a uvu `before` hook would not fail the run).
let prepared: Promise<void> | null = null;
function prepare(): Promise<void> {
  prepared ??= (async () => {
    await buildDist();
    rmSync(SAMPLE_DIR, { recursive: true, force: true });
    mkdirSync(SAMPLE_DIR, { recursive: true });
    writeFileSync(join(SAMPLE_DIR, 'navigator-gpu.mjs'), NAVIGATOR_PRELOAD);
    for (const s of samples) writeFileSync(s.file, s.code);
  })();
  return prepared;
}

test('the library section has a runnable sample for every topic', () => {
  const covered = new Set(samples.map((s) => s.section));
  for (const section of README_SECTIONS) assert.ok(covered.has(section), `README.md has a code sample under "${section}"`);
  for (const s of samples) assert.ok(s.expected.length > 0, `README.md:${s.line}: the sample shows what it prints (a "// →" comment)`);
});

for (const sample of samples) {
  test(`README.md:${sample.line} (${sample.section}) runs and prints what it says`, async () => {
    await prepare();
    const browser = !/from 'wgtensor\/node'/.test(sample.code);
    const args = [
      ...(browser ? ['--import', pathToFileURL(join(SAMPLE_DIR, 'navigator-gpu.mjs')).href] : []),
      ...(sample.lang === 'ts' ? ['--import', import.meta.resolve('tsx')] : []),
      sample.file,
    ];
    const cwd = mkdtempSync(join(tmpdir(), 'wgtensor-readme-'));
    let stdout: string;
    try {
      ({ stdout } = await promisify(execFile)(process.execPath, args, { cwd, timeout: 120_000 }));
    } catch (error) {
      const e = error as Error & { stdout?: string; stderr?: string };
      throw new Error(toReadmeLines(`the sample at README.md:${sample.line} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`));
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
    const printed = stdout.split('\n').filter((l) => l.trim() !== '');
    sample.expected.forEach((want, i) => {
      const got = printed[i];
      if (got === undefined || normalize(got) !== normalize(want.text)) {
        throw new Error(`README.md:${want.line}: the sample printed ${got === undefined ? 'nothing more' : JSON.stringify(got)}, the README says ${JSON.stringify(want.text)}\nfull output:\n${stdout}`);
      }
    });
    if (printed.length > sample.expected.length) {
      throw new Error(`README.md:${sample.line}: the sample printed lines the README does not show: ${JSON.stringify(printed.slice(sample.expected.length))}`);
    }
  });
}

test('the TypeScript samples type-check against the shipped types', async () => {
  await prepare();
  const files = samples.filter((s) => s.lang === 'ts').map((s) => s.file);
  const program = ts.createProgram(files, {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: ['node'],
    typeRoots: [join(repoRoot, 'node_modules/@types')],
  });
  const errors = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}` : '';
    return toReadmeLines(`${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  });
  assert.equal(errors, [], errors.join('\n'));
});

test.run();
