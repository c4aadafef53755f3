// Decode-once image cache for an ImageFolder split. The first load decodes every image with sharp
// (decode.ts: shorter side → S, centre crop, RGB uint8 HWC), a few files in flight at once, reporting
// progress; images that fail to decode are skipped, counted and logged, never fatal. The result is
// written atomically to one cache file per (dataset root, split, S) (cache-file.ts), named
// `<root basename>-<sha256(absolute root)[:12]>-<split>-<S>px.imgcache` in `cacheDir` (default
// `.cache/` under the current directory). Later loads read that file back if its header matches:
// same S, same decode policy, and the same fingerprint (sha256 of the class list and of every image
// file's relative path, size and mtime), so a changed dataset is rebuilt; a truncated, foreign or
// otherwise invalid cache file is rebuilt too, never half-read. In memory the split is one
// contiguous Uint8Array of count × S × S × 3 bytes plus an Int32Array of labels.
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { DECODE_POLICY, decodeImage } from './decode';
import { readCacheFile, writeCacheFile, type SkippedImage } from './cache-file';
import { scanImageFolder, type FolderScan } from './image-folder';

export interface BuildProgress {
  /** Images attempted so far (decoded or skipped). */
  done: number;
  total: number;
  skipped: number;
}

export interface LoadOptions {
  /** Folder of cache files (created if missing). Default: `.cache` under the current directory. */
  cacheDir?: string;
  /** Class list to index by (e.g. train's classes when loading val). Default: the split's folders. */
  classes?: readonly string[];
  /** Decodes in flight at once. Default: the number of CPUs, clamped to [2, 8]. */
  concurrency?: number;
  /** Called after each image while a cache is being built. */
  onProgress?: (progress: BuildProgress) => void;
  /** One line per event (cache hit, rebuild and why, skipped images). Default: silent. */
  log?: (line: string) => void;
  /** Rebuild even if a valid cache file exists. */
  rebuild?: boolean;
}

export interface ImageDataset {
  root: string;
  split: string;
  /** Image side S: every image is S × S × 3. */
  size: number;
  count: number;
  classes: string[];
  /** count × S × S × 3 uint8 RGB, image-major, each image row-major HWC. */
  images: Uint8Array;
  labels: Int32Array;
  /** Relative path (`<class>/<name>`) of each image, in dataset order. */
  paths: string[];
  /** Images that failed to decode when the cache was built (not in `images`). */
  skipped: SkippedImage[];
  /** Files in the split folder that are not images (never decoded). */
  ignored: string[];
  cacheFile: string;
  /** True when the data was read from an existing cache file. */
  fromCache: boolean;
  /** Why the cache was (re)built; null on a cache hit. */
  rebuildReason: string | null;
}

/** sha256 over the class list and every image's relative path, size and mtime. */
export function fingerprint(scan: Pick<FolderScan, 'classes' | 'files'>): string {
  const h = createHash('sha256');
  h.update(`classes\t${scan.classes.join('\t')}\n`);
  for (const f of scan.files) h.update(`${f.rel}\t${f.label}\t${f.bytes}\t${f.mtimeMs}\n`);
  return h.digest('hex');
}

/** The cache file path for (root, split, size) inside cacheDir. */
export function cacheFilePath(root: string, split: string, size: number, cacheDir = '.cache'): string {
  const abs = resolve(root);
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 12);
  const name = basename(abs).replace(/[^A-Za-z0-9._-]/g, '_') || 'root';
  return join(resolve(cacheDir), `${name}-${hash}-${split}-${size}px.imgcache`);
}

function checkSize(op: string, size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > 4096) {
    throw new Error(`${op}: image size must be an integer in [1, 4096], got ${size}`);
  }
}

export interface DecodedImages {
  images: Uint8Array;
  labels: Int32Array;
  paths: string[];
  skipped: SkippedImage[];
}

/** Decodes every image of a scan at size S, a few in flight; failures are skipped and listed. */
export async function decodeAll(
  scan: Pick<FolderScan, 'files'>,
  size: number,
  options: Pick<LoadOptions, 'concurrency' | 'onProgress'> = {},
): Promise<DecodedImages> {
  checkSize('decodeAll', size);
  const files = scan.files;
  const n = files.length;
  const stride = size * size * 3;
  const images = new Uint8Array(n * stride);
  const ok = new Uint8Array(n);
  const reasons = new Map<number, string>();
  const inFlight = Math.max(1, Math.floor(options.concurrency ?? Math.min(8, Math.max(2, availableParallelism()))));
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      try {
        images.set(await decodeImage(files[i]!.path, size), i * stride);
        ok[i] = 1;
      } catch (e) {
        reasons.set(i, e instanceof Error ? e.message : String(e));
      }
      done++;
      options.onProgress?.({ done, total: n, skipped: reasons.size });
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, Math.max(1, n)) }, worker));
  // Compact in place, keeping file order: image i moves to slot kept ≤ i.
  const labels: number[] = [];
  const paths: string[] = [];
  const skipped: SkippedImage[] = [];
  for (let i = 0; i < n; i++) {
    if (!ok[i]) {
      skipped.push({ rel: files[i]!.rel, reason: reasons.get(i) ?? 'unknown error' });
      continue;
    }
    const kept = labels.length;
    if (kept !== i) images.copyWithin(kept * stride, i * stride, (i + 1) * stride);
    labels.push(files[i]!.label);
    paths.push(files[i]!.rel);
  }
  return {
    images: labels.length === n ? images : images.slice(0, labels.length * stride),
    labels: Int32Array.from(labels),
    paths,
    skipped,
  };
}

function describeSkipped(skipped: SkippedImage[], total: number): string {
  const shown = skipped.slice(0, 10).map((s) => `${s.rel} (${s.reason})`);
  const more = skipped.length > shown.length ? `, and ${skipped.length - shown.length} more` : '';
  return `skipped ${skipped.length} of ${total} images that could not be decoded: ${shown.join('; ')}${more}`;
}

/**
 * Loads root/split at S×S: from its cache file when that is valid for the current files, else by
 * decoding every image and writing the cache. Throws only for a missing/empty ImageFolder, a bad
 * size, or when no image at all decodes; a cache file that cannot be written is logged, not fatal.
 */
export async function loadImageFolder(root: string, split: string, size: number, options: LoadOptions = {}): Promise<ImageDataset> {
  checkSize('loadImageFolder', size);
  const log = options.log ?? (() => undefined);
  const scan = scanImageFolder(root, split, options.classes ? { classes: options.classes } : {});
  const print = fingerprint(scan);
  const cacheFile = cacheFilePath(scan.root, split, size, options.cacheDir);
  const base = { root: scan.root, split, size, classes: scan.classes, ignored: scan.ignored, cacheFile };
  if (scan.ignored.length > 0) log(`data: ${scan.dir}: ignored ${scan.ignored.length} non-image entries (e.g. ${scan.ignored[0]})`);

  let reason = 'rebuild requested';
  if (!options.rebuild) {
    const read = await readCacheFile(cacheFile, { size, fingerprint: print, policy: DECODE_POLICY });
    if (read.ok) {
      const { header } = read;
      log(`data: ${split} from cache ${cacheFile}: ${header.count} images at ${size}px` +
        (header.skipped.length > 0 ? `, ${header.skipped.length} skipped when it was built` : ''));
      return { ...base, count: header.count, images: read.images, labels: read.labels, paths: header.paths, skipped: header.skipped, fromCache: true, rebuildReason: null };
    }
    reason = read.reason;
  }

  log(`data: building the ${size}px cache of ${scan.dir} (${scan.files.length} images): ${reason}`);
  const started = Date.now();
  const decoded = await decodeAll(scan, size, options);
  const count = decoded.labels.length;
  if (decoded.skipped.length > 0) log(`data: ${describeSkipped(decoded.skipped, scan.files.length)}`);
  if (count === 0) {
    throw new Error(`loadImageFolder: none of the ${scan.files.length} images in ${scan.dir} could be decoded (first: ${decoded.skipped[0]?.reason})`);
  }
  try {
    mkdirSync(resolve(cacheFile, '..'), { recursive: true });
    await writeCacheFile(cacheFile, {
      header: { size, count, split, classes: scan.classes, fingerprint: print, policy: DECODE_POLICY, paths: decoded.paths, skipped: decoded.skipped },
      labels: decoded.labels,
      images: decoded.images,
    });
    log(`data: decoded ${count} images in ${((Date.now() - started) / 1000).toFixed(1)} s, cached in ${cacheFile}`);
  } catch (e) {
    log(`data: warning: could not write the cache file ${cacheFile} (${String(e)}); the next run decodes again`);
  }
  return { ...base, count, ...decoded, fromCache: false, rebuildReason: reason };
}
