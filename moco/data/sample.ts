// Where the shipped Imagenette sample lives (data/imagenette-sample/ in the repository: 10 classes,
// 50 train + 20 val images each, 64×64 JPEG; see its SOURCE.md). It is found by walking up from this
// module's folder, so it resolves both from moco/data/ (tsx) and from a bundled dist/ entry point.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SAMPLE_IMAGE_SIZE = 64;
export const SAMPLE_CLASSES = 10;
export const SAMPLE_TRAIN_PER_CLASS = 50;
export const SAMPLE_VAL_PER_CLASS = 20;

const SAMPLE_DIR = join('data', 'imagenette-sample');

/** Absolute path of the shipped sample; throws if it is not found above this module. */
export function sampleRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++) {
    const candidate = join(dir, SAMPLE_DIR);
    if (existsSync(join(candidate, 'SOURCE.md'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`sampleRoot: ${SAMPLE_DIR}/SOURCE.md was not found above ${fileURLToPath(import.meta.url)}; pass --data DIR`);
}
