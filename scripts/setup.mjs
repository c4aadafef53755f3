#!/usr/bin/env node
// Makes sure a WebGPU adapter exists before tests, benchmarks or training run. When Dawn finds
// none on Debian/Ubuntu and we are root with apt, it installs Mesa's software Vulkan driver
// (lavapipe) — from bookworm-backports on Debian 12, whose own Mesa is too old for Dawn — and says
// so. Otherwise it exits 1 with the commands to run.
// With --test-deps it also makes sure of what the tests use besides the GPU: Debian's PyTorch for
// /usr/bin/python3 (the checkpoint interop tests run torchvision) and Debian's Chromium (the
// browser test runs the library bundle in it, headless), installed the same way.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const probe = fileURLToPath(new URL('./probe-adapter.mjs', import.meta.url));
const quiet = process.argv.includes('--quiet');

function findAdapter() {
  const r = spawnSync(process.execPath, [probe], { encoding: 'utf8', env: { XDG_RUNTIME_DIR: '/tmp', ...process.env } });
  if (r.status !== 0) return null;
  const line = r.stdout.trim().split('\n').pop();
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
}

function osRelease() {
  if (!existsSync('/etc/os-release')) return {};
  return Object.fromEntries(
    readFileSync('/etc/os-release', 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => {
        const i = l.indexOf('=');
        return [l.slice(0, i), l.slice(i + 1).replace(/^"|"$/g, '')];
      }),
  );
}

const BPO_COMMANDS = [
  "echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bpo.list",
  'apt-get update',
  'apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1',
];
const PLAIN_COMMANDS = ['apt-get update', 'apt-get install -y mesa-vulkan-drivers libvulkan1'];

function report(adapter) {
  if (!quiet) console.log(`WebGPU adapter: ${adapter.description || adapter.device} (${adapter.vendor}, ${adapter.architecture})`);
}

function hasTorch() {
  return spawnSync('/usr/bin/python3', ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0;
}

function hasChromium() {
  return spawnSync('/usr/bin/chromium', ['--version'], { stdio: 'ignore' }).status === 0;
}

const TEST_DEPS = [
  {
    what: "PyTorch for /usr/bin/python3 (Debian's python3-torch, python3-torchvision), for the interop tests",
    packages: ['python3-torch', 'python3-torchvision', 'libopenblas0-pthread'],
    present: hasTorch,
    stillMissing: 'python3-torch was installed but `import torch, torchvision` still fails under /usr/bin/python3.',
  },
  {
    what: "Debian's Chromium, for the browser test",
    packages: ['chromium'],
    present: hasChromium,
    stillMissing: 'chromium was installed but `/usr/bin/chromium --version` still fails.',
  },
];

function ensureTestDeps() {
  if (!process.argv.includes('--test-deps')) return;
  const missing = TEST_DEPS.filter((dep) => !dep.present());
  if (missing.length === 0) return;
  const packages = missing.flatMap((dep) => dep.packages);
  const command = `apt-get install -y ${packages.join(' ')}`;
  const root = process.platform === 'linux' && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
  if (!root) {
    console.error(`The tests need ${missing.map((dep) => dep.what).join(', and ')}. Run: ${command}`);
    process.exit(1);
  }
  console.log(`Installing ${missing.map((dep) => dep.what).join(', and ')} (${packages.join(', ')})...`);
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], { stdio: ['ignore', 'ignore', 'inherit'], env });
  } catch (error) {
    console.error(`Installing the test dependencies failed: ${error.message}\nRun: ${command}`);
    process.exit(1);
  }
  for (const dep of missing) {
    if (!dep.present()) {
      console.error(dep.stillMissing);
      process.exit(1);
    }
  }
}

let adapter = findAdapter();
if (adapter) {
  report(adapter);
  ensureTestDeps();
  process.exit(0);
}

const os = osRelease();
const debianLike = /debian|ubuntu/.test(`${os.ID} ${os.ID_LIKE ?? ''}`);
const bookworm = os.VERSION_CODENAME === 'bookworm';
const commands = bookworm ? BPO_COMMANDS : PLAIN_COMMANDS;
const canInstall = process.platform === 'linux' && debianLike && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');

if (!canInstall) {
  console.error('No WebGPU adapter was found, and this script cannot install one here (it needs root on Debian/Ubuntu).');
  console.error('Install a GPU driver with Vulkan support, or the software Vulkan driver (Mesa lavapipe):');
  for (const c of commands) console.error(`  ${c}`);
  process.exit(1);
}

console.log(`No WebGPU adapter found: installing Mesa's software Vulkan driver (lavapipe)${bookworm ? ' from bookworm-backports' : ''}...`);
try {
  if (bookworm) writeFileSync('/etc/apt/sources.list.d/bpo.list', 'deb http://deb.debian.org/debian bookworm-backports main\n');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  const install = ['install', '-y', '-q', ...(bookworm ? ['-t', 'bookworm-backports'] : []), 'mesa-vulkan-drivers', 'libvulkan1'];
  execFileSync('apt-get', install, { stdio: ['ignore', 'ignore', 'inherit'], env });
} catch (error) {
  console.error(`Installing the driver failed: ${error.message}`);
  console.error('Run these yourself:');
  for (const c of commands) console.error(`  ${c}`);
  process.exit(1);
}
adapter = findAdapter();
if (!adapter) {
  console.error('The driver was installed but Dawn still finds no adapter. Check `vulkaninfo` (package vulkan-tools).');
  process.exit(1);
}
console.log('Installed.');
report(adapter);
ensureTestDeps();
