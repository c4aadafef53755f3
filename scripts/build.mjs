#!/usr/bin/env node
// Builds dist/: the browser-clean library bundle (WGSL is inlined: kernels are TypeScript strings),
// the Node entry, the command-line tools, and the .d.ts types.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';

const watchFree = { bundle: true, format: 'esm', sourcemap: true, target: 'es2022', logLevel: 'warning' };
const nodeExternal = ['webgpu', '@tensorflow/*', 'sharp', 'cli-progress', 'playwright-core'];

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
}
if (!process.argv.includes('--quiet')) console.log('built dist/');
