// Test runner: loads every test/**/*.test.ts (or those whose path contains an argument) into one
// process with uvu, so the GPU device is created once, then destroys the device so Node exits.
// Usage: node --import tsx test/run.ts [filter ...]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));

function find(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return find(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

const filters = process.argv.slice(2);
const files = find(root)
  .filter((f) => filters.length === 0 || filters.some((p) => relative(root, f).includes(p)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}

(globalThis as { UVU_DEFER?: number }).UVU_DEFER = 1;
const uvu = await import('uvu');
const queue = (globalThis as unknown as { UVU_QUEUE: unknown[][] }).UVU_QUEUE;
let index = 0;
for (const file of files) {
  (globalThis as { UVU_INDEX?: number }).UVU_INDEX = index++;
  queue.push([relative(root, file)]);
  await import(pathToFileURL(file).href);
}
await uvu.exec(false);

const { shutdown } = await import('../lib/node');
shutdown();
process.exit(process.exitCode ?? 0);
