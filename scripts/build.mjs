#!/usr/bin/env node
// Builds dist/: the browser-clean library bundle (WGSL is inlined: kernels are TypeScript strings),
// the Node entry, the command-line tools, and the .d.ts types.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const watchFree = { bundle: true, format: 'esm', sourcemap: true, target: 'es2022', logLevel: 'warning' };
const nodeExternal = ['webgpu', '@tensorflow/*', 'sharp', 'cli-progress', 'playwright-core', 'esbuild'];

// dist/node.js (and the tools) import the library bundle instead of carrying a second copy of it.
const shareLibrary = (fromDir) => ({
  name: 'share-library',
  setup(b) {
    b.onResolve({ filter: /(^|\/)lib\/[\w/-]+$/ }, (args) => {
      const fromLibrary = args.importer.includes('/lib/');
      if (args.kind === 'entry-point' || fromLibrary || /lib\/(index|node)$/.test(args.path)) return undefined;
      return { errors: [{ text: `${args.importer} imports ${args.path}: tools must import the library through lib/index or lib/node, or they bundle a second copy of its state` }] };
    });
    b.onResolve({ filter: /(^|\/)lib\/(index|node)$|^\.\/index$/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      const target = /node$/.test(args.path) ? 'node.js' : 'index.js';
      return { path: `${fromDir}${target}`, external: true };
    });
  },
});

if (!process.argv.includes('--no-types')) rmSync('dist', { recursive: true, force: true });
await Promise.all([
  build({ ...watchFree, entryPoints: ['lib/index.ts'], outfile: 'dist/index.js', platform: 'browser' }),
  build({
    ...watchFree,
    entryPoints: ['lib/node.ts'],
    outfile: 'dist/node.js',
    platform: 'node',
    external: nodeExternal,
    plugins: [shareLibrary('./')],
  }),
  ...[
    ['bench/cli.ts', 'dist/bench.js'],
    ['moco/cli.ts', 'dist/moco.js'],
  ]
    .filter(([entry]) => existsSync(entry))
    .map(([entry, outfile]) =>
      build({
        ...watchFree,
        entryPoints: [entry],
        outfile,
        platform: 'node',
        external: nodeExternal,
        plugins: [shareLibrary('./')],
        banner: { js: '#!/usr/bin/env node' },
      }),
    ),
]);
// --no-types skips the declarations (what `npm run train` and `npm run bench` need is only the JS).
if (!process.argv.includes('--no-types')) {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
  addDeclarationExtensions('dist/types');
}

// The sources import without extensions (moduleResolution "bundler"), and so do the declarations
// tsc emits; TypeScript projects of users with moduleResolution "node16"/"nodenext" (an ESM
// package) need explicit ones. Rewrites every relative specifier in dist/types to the .js (or
// /index.js) name whose .d.ts exists.
function addDeclarationExtensions(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) addDeclarationExtensions(path);
    if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
    const text = readFileSync(path, 'utf8');
    const fixed = text.replace(/((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]*?)\2/g, (whole, lead, quote, spec) => {
      if (/\.(js|json)$/.test(spec)) return whole;
      const base = resolve(dirname(path), spec);
      const target = existsSync(`${base}.d.ts`) ? `${spec}.js` : existsSync(join(base, 'index.d.ts')) ? `${spec}/index.js` : null;
      if (!target) throw new Error(`${path}: cannot resolve ${spec}`);
      return `${lead}${quote}${target}${quote}`;
    });
    if (fixed !== text) writeFileSync(path, fixed);
  }
}
if (!process.argv.includes('--quiet')) console.log('built dist/');
