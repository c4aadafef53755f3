// The library in a browser: Debian's Chromium, headless, with WebGPU on (a SwiftShader adapter on a
// machine without a GPU). One browser and one page run the scenario of test/browser/scenario.ts on
// the shipped bundle dist/index.js, with the subgroup kernels and without them, and the results
// must match the same scenario run in Node on the library itself. Then the browser example
// (examples/browser/) must train its model. A missing browser fails this test; `npm run setup`
// installs it.
import { build } from 'esbuild';
import { readFile } from 'node:fs/promises';
import { chromium, type Browser, type Page } from 'playwright-core';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as wg from '../lib/index';
import { assertClose, type Tolerance } from './helpers/assert';
import { buildDist, repoRoot } from './helpers/dist';
import { seed } from './helpers/gpu';
import { runScenario, type ScenarioOutput } from './browser/scenario';
import { serve, type StaticServer } from './browser/serve';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const PAGE_TIMEOUT_MS = 120_000;

// Two float32 implementations (SwiftShader vs the Node adapter) may round exp, log and divisions
// differently and sum in different orders. Measured between SwiftShader and lavapipe: single ops
// and gradients differ by at most 4e-6 absolute (2e-7 relative to the result's largest value),
// the training run (six steps through BatchNorm) by at most 4e-7; the tolerances leave ~10x room.
const OP_TOL: Tolerance = { rtol: 2e-5, atol: 2e-6 };
const GRAD_TOL: Tolerance = { rtol: 1e-4, atol: 2e-6 };
const TRAIN_TOL: Tolerance = { rtol: 1e-4, atol: 1e-5 };
const tolerance = (name: string) => (name.startsWith('grad') ? GRAD_TOL : /training|trained|running|eval/.test(name) ? TRAIN_TOL : OP_TOL);

interface Env {
  server: StaticServer;
  browser: Browser;
  page: Page;
  nodeOutput: ScenarioOutput;
}

const pageErrors: string[] = [];
let started: Promise<Env> | null = null;
let browserToClose: Browser | null = null;
let serverToClose: StaticServer | null = null;

function withTimeout<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${PAGE_TIMEOUT_MS / 1000} s; page errors: ${pageErrors.join(' | ') || 'none'}`)), PAGE_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function start(): Promise<Env> {
  await buildDist();
  const scenario = await build({ entryPoints: [`${repoRoot}test/browser/scenario.ts`], bundle: true, format: 'esm', write: false, logLevel: 'silent' });
  const js = 'text/javascript; charset=utf-8';
  const server = await serve(repoRoot, {
    '/scenario.js': [js, scenario.outputFiles[0]!.text],
    '/test.html': ['text/html; charset=utf-8', await readFile(`${repoRoot}test/browser/page.html`, 'utf8')],
  });
  serverToClose = server;
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  } catch (error) {
    throw new Error(`cannot start Chromium at ${CHROMIUM} (run \`npm run setup\`, which installs Debian's chromium): ${(error as Error).message}`);
  }
  browserToClose = browser;
  const page = await browser.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(`${server.origin}/test.html`);
  await page.waitForFunction(() => document.body.dataset.ready === 'yes', null, { timeout: 30_000 });
  const nodeOutput = await runScenario(wg, seed);
  return { server, browser, page, nodeOutput };
}

/** Starts the server and the browser on first use inside a test (an error in a uvu `before` hook would not fail the run). */
function env(): Promise<Env> {
  started ??= start();
  return started;
}

test.after(async () => {
  await browserToClose?.close();
  await serverToClose?.close();
});

function compare(nodeOutput: ScenarioOutput, browserOutput: ScenarioOutput, label: string): void {
  assert.is(nodeOutput.leaked, 0, 'the scenario leaks no tensor in Node');
  assert.is(browserOutput.leaked, 0, `the scenario leaks no tensor in the browser (${label})`);
  assert.equal(Object.keys(browserOutput.values), Object.keys(nodeOutput.values), 'the same results were computed');
  for (const [name, expected] of Object.entries(nodeOutput.values)) {
    assert.ok(expected.length > 0 && expected.every(Number.isFinite), `${name}: Node's values are finite`);
    assertClose(browserOutput.values[name]!, expected, tolerance(name), `${name} in the browser (${label}) vs Node`);
  }
  const losses = browserOutput.values['training losses']!;
  assert.ok(losses[losses.length - 1]! < losses[0]!, `the training loss went down in the browser (${losses.join(', ')})`);
}

async function runInPage(page: Page, useSubgroups: boolean): Promise<ScenarioOutput> {
  const output = await withTimeout(
    'the scenario in Chromium',
    page.evaluate(([s, sub]) => (window as unknown as { runScenario(seed: number, sub: boolean): Promise<ScenarioOutput> }).runScenario(s, sub), [seed, useSubgroups] as const),
  );
  assert.equal(pageErrors, [], 'no error in the page');
  return output;
}

test('ops, autograd and optimizer steps in Chromium match Node (subgroup kernels)', async () => {
  const { page, nodeOutput } = await env();
  const output = await runInPage(page, true);
  console.log(`    Chromium: ${output.adapter}, subgroup size ${output.subgroupSize ?? 'none'}; Node: ${nodeOutput.adapter}, subgroup size ${nodeOutput.subgroupSize ?? 'none'}`);
  // Chromium's SwiftShader offers subgroups (of 4): without them this test would only repeat the next one.
  assert.ok(output.subgroupSize !== null, `Chromium's adapter (${output.adapter}) has no fixed-size subgroups, so the subgroup kernels went untested`);
  compare(nodeOutput, output, `subgroups of ${output.subgroupSize}`);
});

test('ops, autograd and optimizer steps in Chromium match Node (kernels without subgroups)', async () => {
  const { page, nodeOutput } = await env();
  const output = await runInPage(page, false);
  assert.is(output.subgroupSize, null);
  compare(nodeOutput, output, 'without subgroups');
});

test('the browser example trains its model and shows the result', async () => {
  const { browser, server } = await env();
  const example = await browser.newPage();
  const errors: string[] = [];
  example.on('pageerror', (error) => errors.push(error.message));
  await example.goto(`${server.origin}/examples/browser/index.html`);
  await withTimeout('examples/browser', example.waitForFunction(() => document.body.dataset.status, null, { timeout: 0 }));
  const data = await example.evaluate((): Record<string, string | undefined> => ({ ...document.body.dataset, summary: document.getElementById('summary')?.textContent ?? '' }));
  await example.close();
  assert.equal(errors, [], 'no error in the example page');
  assert.is(data.status, 'done', `the example finished (${data.error ?? data.summary})`);
  const [first, last, accuracy] = [data.firstLoss, data.lastLoss, data.accuracy].map(Number) as [number, number, number];
  assert.ok(last < 0.5 * first, `the loss fell by more than half (${first} → ${last})`);
  assert.ok(accuracy >= 0.9, `training accuracy ${accuracy} ≥ 0.9`);
  assert.match(data.summary ?? '', /Loss .* training accuracy/);
});

test.run();
