// Builds dist/ (the bundles and type declarations users of the package get) once per test process,
// for the tests that use the package as its users do: examples, README samples, npm pack, browser.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The repository root. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

let built: Promise<void> | null = null;

/** Runs `node scripts/build.mjs` (bundles + types) the first time it is called; later calls share it. */
export function buildDist(): Promise<void> {
  built ??= promisify(execFile)(process.execPath, ['scripts/build.mjs', '--quiet'], { cwd: repoRoot }).then(
    () => undefined,
    (error: Error & { stderr?: string; stdout?: string }) => {
      throw new Error(`npm run build failed: ${error.message}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    },
  );
  return built;
}
