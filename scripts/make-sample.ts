// Builds the shipped Imagenette sample (data/imagenette-sample/) from the 224 px Imagenette copy in
// ../shared/data/imagenette2-224, deterministically: the same source gives byte-identical output.
//
// Selection: per split and class (wnid), the class's files sorted by name (C order), then the ones at
// positions floor(i·n/k) for i = 0..k-1 (k = 50 train, 20 val; evenly spaced, no randomness).
// Processing: sharp resizes each 224×224 JPEG to 64×64 (lanczos3; the source is square, so nothing
// is cropped), keeps grayscale sources grayscale (1-channel JPEG, so the loader's gray→RGB path is
// exercised by real data), and encodes a baseline JPEG at quality 90 without metadata.
// Output: <out>/{train,val}/<wnid>/<source stem>.jpg and <out>/MANIFEST.tsv (one row per image:
// output path, source path, source sha256, source channels). SOURCE.md and LICENSE-NOTE.md are
// written by hand and left alone; train/, val/ and MANIFEST.tsv are replaced on every run.
//
// Usage: node --import tsx scripts/make-sample.ts [--src DIR] [--out DIR]
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const SPLITS = [
  { name: 'train', perClass: 50 },
  { name: 'val', perClass: 20 },
] as const;
const SIZE = 64;
const QUALITY = 90;
const IN_FLIGHT = 4;

const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const value = process.argv[i + 1];
  if (value === undefined) throw new Error(`make-sample: ${name} needs a value`);
  return resolve(value);
}

const src = option('--src', resolve(repo, '..', 'shared', 'data', 'imagenette2-224'));
const out = option('--out', resolve(repo, 'data', 'imagenette-sample'));

function sortedEntries(dir: string, wantDir: boolean): string[] {
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.') && statSync(join(dir, name)).isDirectory() === wantDir)
    .sort();
}

/** Positions floor(i·n/k), i = 0..k-1: k distinct, evenly spaced indices into n ≥ k items. */
function evenlySpaced(n: number, k: number): number[] {
  if (n < k) throw new Error(`make-sample: a class has ${n} images, the sample needs ${k}`);
  return Array.from({ length: k }, (_, i) => Math.floor((i * n) / k));
}

interface Job {
  source: string;
  target: string;
}

interface Row {
  target: string;
  source: string;
  sha256: string;
  channels: number;
  bytes: number;
}

async function convert(job: Job): Promise<Row> {
  const input = readFileSync(job.source);
  const meta = await sharp(input).metadata();
  const channels = meta.channels ?? 0;
  let pipeline = sharp(input, { failOn: 'warning' }).resize(SIZE, SIZE, { fit: 'cover', position: 'centre' });
  pipeline = channels === 1 ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb');
  const jpeg = await pipeline.jpeg({ quality: QUALITY }).toBuffer();
  writeFileSync(resolve(out, job.target), jpeg);
  return {
    target: job.target,
    source: job.source.slice(src.length + 1),
    sha256: createHash('sha256').update(input).digest('hex'),
    channels,
    bytes: jpeg.length,
  };
}

async function main(): Promise<void> {
  for (const split of SPLITS) rmSync(join(out, split.name), { recursive: true, force: true });
  const jobs: Job[] = [];
  for (const split of SPLITS) {
    const splitDir = join(src, split.name);
    for (const wnid of sortedEntries(splitDir, true)) {
      const files = sortedEntries(join(splitDir, wnid), false);
      mkdirSync(join(out, split.name, wnid), { recursive: true });
      for (const i of evenlySpaced(files.length, split.perClass)) {
        const name = files[i]!;
        const stem = basename(name, extname(name));
        jobs.push({ source: join(splitDir, wnid, name), target: `${split.name}/${wnid}/${stem}.jpg` });
      }
    }
  }
  const rows: Row[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < jobs.length) {
        const i = next++;
        rows[i] = await convert(jobs[i]!);
      }
    }),
  );
  const manifest = ['# output\tsource (relative to imagenette2-224)\tsource sha256\tsource channels']
    .concat(rows.map((r) => `${r.target}\t${r.source}\t${r.sha256}\t${r.channels}`))
    .join('\n');
  writeFileSync(join(out, 'MANIFEST.tsv'), manifest + '\n');
  const gray = rows.filter((r) => r.channels === 1);
  const bytes = rows.reduce((a, r) => a + r.bytes, 0);
  console.log(`make-sample: ${rows.length} images (${gray.length} grayscale) from ${src}`);
  for (const split of SPLITS) {
    const n = rows.filter((r) => r.target.startsWith(`${split.name}/`)).length;
    console.log(`  ${split.name}: ${n} images (${split.perClass} per class)`);
  }
  console.log(`  ${(bytes / 1e6).toFixed(2)} MB of JPEG written to ${out}`);
  console.log(`  grayscale: ${gray.map((r) => r.target).join(', ') || 'none'}`);
}

await main();
