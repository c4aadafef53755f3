// The decoded-image cache file: one file per dataset root, split and image size S.
// Layout (little-endian):
//   [0, 8)    magic "WGTIMGC\n"
//   [8, 12)   u32 format version (CACHE_VERSION)
//   [12, 16)  u32 J = byte length of the JSON header (space-padded so 16 + J is a multiple of 8)
//   [16, 16+J)                JSON CacheHeader (size, count, classes, fingerprint, paths, skipped...)
//   then count × i32          labels
//   then count × S × S × 3    uint8 RGB pixels, image-major, each image row-major HWC
//   then 8 bytes              end marker "WGTIMGE\n"
// Reading checks the magic, version, header fields, the expected size and fingerprint (before any
// pixel is read), the exact file length (a truncated or padded file is refused, never half-read),
// the end marker and every label's range; any failure is returned as a reason, not thrown.
// Writing goes to a temporary file in the same folder which is synced and then renamed over the
// target, so a reader sees either the old file, the new one, or none, never a partial one.
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';

export const CACHE_MAGIC = 'WGTIMGC\n';
export const CACHE_END = 'WGTIMGE\n';
export const CACHE_VERSION = 1;
const PREFIX = 16;

export interface SkippedImage {
  /** Path relative to the split folder. */
  rel: string;
  reason: string;
}

export interface CacheHeader {
  size: number;
  count: number;
  split: string;
  classes: string[];
  /** sha256 of the class list and the file list with sizes and mtimes (see cache.ts). */
  fingerprint: string;
  /** The decode policy the pixels were made with (decode.ts DECODE_POLICY). */
  policy: string;
  /** Relative path of each cached image, in cache order. */
  paths: string[];
  /** Images that failed to decode when the cache was built. */
  skipped: SkippedImage[];
}

export interface CacheContents {
  header: CacheHeader;
  labels: Int32Array;
  images: Uint8Array;
}

export type CacheRead = ({ ok: true } & CacheContents) | { ok: false; reason: string };

export interface CacheExpectation {
  size: number;
  fingerprint: string;
  policy: string;
}

const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function headerProblem(h: Record<string, unknown>): string | null {
  if (!isCount(h.size) || h.size === 0) return 'header field size is not a positive integer';
  if (!isCount(h.count)) return 'header field count is not a count';
  if (typeof h.split !== 'string') return 'header field split is not a string';
  if (!isStringArray(h.classes) || h.classes.length === 0) return 'header field classes is not a list of names';
  if (typeof h.fingerprint !== 'string' || typeof h.policy !== 'string') return 'header fingerprint/policy missing';
  if (!isStringArray(h.paths) || h.paths.length !== h.count) return 'header field paths does not list count paths';
  const skippedOk =
    Array.isArray(h.skipped) &&
    h.skipped.every((s: unknown) => typeof s === 'object' && s !== null && typeof (s as SkippedImage).rel === 'string');
  if (!skippedOk) return 'header field skipped is malformed';
  return null;
}

async function readExactly(fh: FileHandle, target: Uint8Array, position: number): Promise<boolean> {
  let done = 0;
  while (done < target.length) {
    const chunk = Math.min(target.length - done, 1 << 30);
    const { bytesRead } = await fh.read(target, done, chunk, position + done);
    if (bytesRead === 0) return false;
    done += bytesRead;
  }
  return true;
}

/** Reads and validates a cache file; every problem comes back as { ok: false, reason }. */
export async function readCacheFile(file: string, expect: CacheExpectation): Promise<CacheRead> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    return { ok: false, reason: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no cache file yet' : `cannot open: ${String(e)}` };
  }
  try {
    const fileSize = (await fh.stat()).size;
    const prefix = new Uint8Array(PREFIX);
    if (fileSize < PREFIX || !(await readExactly(fh, prefix, 0))) return { ok: false, reason: `truncated (${fileSize} bytes)` };
    const view = new DataView(prefix.buffer);
    if (Buffer.from(prefix.subarray(0, 8)).toString('latin1') !== CACHE_MAGIC) return { ok: false, reason: 'not an image cache file (bad magic)' };
    const version = view.getUint32(8, true);
    if (version !== CACHE_VERSION) return { ok: false, reason: `format version ${version}, expected ${CACHE_VERSION}` };
    const jsonBytes = view.getUint32(12, true);
    if (PREFIX + jsonBytes > fileSize) return { ok: false, reason: `truncated inside the header (${fileSize} bytes)` };
    const json = new Uint8Array(jsonBytes);
    if (!(await readExactly(fh, json, PREFIX))) return { ok: false, reason: 'truncated inside the header' };
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(json).toString('utf8'));
    } catch {
      return { ok: false, reason: 'header is not valid JSON' };
    }
    if (typeof parsed !== 'object' || parsed === null) return { ok: false, reason: 'header is not an object' };
    const problem = headerProblem(parsed as Record<string, unknown>);
    if (problem) return { ok: false, reason: problem };
    const header = parsed as CacheHeader;
    if (header.size !== expect.size) return { ok: false, reason: `built for size ${header.size}, expected ${expect.size}` };
    if (header.policy !== expect.policy) return { ok: false, reason: `built with decode policy "${header.policy}"` };
    if (header.fingerprint !== expect.fingerprint) return { ok: false, reason: 'the dataset changed (file list, sizes or mtimes)' };
    const labelsAt = PREFIX + jsonBytes;
    const pixelsAt = labelsAt + 4 * header.count;
    const pixelBytes = header.count * header.size * header.size * 3;
    const total = pixelsAt + pixelBytes + CACHE_END.length;
    if (fileSize < total) return { ok: false, reason: `truncated: ${fileSize} bytes, expected ${total}` };
    if (fileSize > total) return { ok: false, reason: `${fileSize - total} bytes too long (expected ${total})` };
    const labelBytes = new Uint8Array(4 * header.count);
    const images = new Uint8Array(pixelBytes);
    const end = new Uint8Array(CACHE_END.length);
    const complete =
      (await readExactly(fh, labelBytes, labelsAt)) &&
      (await readExactly(fh, images, pixelsAt)) &&
      (await readExactly(fh, end, pixelsAt + pixelBytes));
    if (!complete) return { ok: false, reason: 'truncated while reading' };
    if (Buffer.from(end).toString('latin1') !== CACHE_END) return { ok: false, reason: 'bad end marker' };
    const labels = new Int32Array(header.count);
    const lv = new DataView(labelBytes.buffer);
    for (let i = 0; i < header.count; i++) {
      const label = lv.getInt32(4 * i, true);
      if (label < 0 || label >= header.classes.length) return { ok: false, reason: `label ${label} of image ${i} is out of range` };
      labels[i] = label;
    }
    return { ok: true, header, labels, images };
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: FileHandle, data: Uint8Array, position: number): Promise<number> {
  let done = 0;
  while (done < data.length) {
    const chunk = Math.min(data.length - done, 1 << 30);
    const { bytesWritten } = await fh.write(data, done, chunk, position + done);
    done += bytesWritten;
  }
  return position + done;
}

/** Writes a cache file atomically (temporary file in the same folder, fsync, rename). */
export async function writeCacheFile(file: string, contents: CacheContents): Promise<void> {
  const { header, labels, images } = contents;
  if (labels.length !== header.count || images.length !== header.count * header.size * header.size * 3) {
    throw new Error(
      `writeCacheFile: ${labels.length} labels and ${images.length} pixel bytes for ${header.count} images of ` +
        `${header.size}×${header.size}×3`,
    );
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil((PREFIX + json.length) / 8) * 8 - PREFIX;
  json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const prefix = Buffer.alloc(PREFIX);
  prefix.write(CACHE_MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(CACHE_VERSION, 8);
  prefix.writeUInt32LE(json.length, 12);
  const labelBytes = Buffer.alloc(4 * labels.length);
  labels.forEach((l, i) => labelBytes.writeInt32LE(l, 4 * i));

  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx');
  try {
    let at = 0;
    for (const part of [prefix, json, labelBytes, images, Buffer.from(CACHE_END, 'latin1')]) at = await writeAll(fh, part, at);
    await fh.sync();
    await fh.close();
    await rename(tmp, file);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}
