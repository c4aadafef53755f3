// The MoCo data layer (moco/data): ImageFolder scanning of the shipped sample, the decode-once cache
// (pixels against sharp's own decode, labels, rebuild on a changed dataset, corrupt/non-image files
// skipped and counted, truncated/foreign cache files rebuilt, grayscale/CMYK/RGBA/16-bit → RGB, the
// shorter-side + centre-crop policy) and the seeded epoch loader (each epoch exactly once under
// drop_last, reproducible from a seed, resumable from a saved state). No GPU is used; every cache is
// built in a fresh temporary folder that is removed afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Generator } from '../lib/index';
import {
  EpochLoader,
  classCounts,
  loadImageFolder,
  sampleRoot,
  scanImageFolder,
  type Batch,
  type ImageSet,
  type LoadOptions,
} from '../moco/data/index';
import { assertRejects, assertThrows } from './helpers/assert';
import { caseGenerator } from './helpers/check';

const WNIDS = ['n01440764', 'n02102040', 'n02979186', 'n03000684', 'n03028079', 'n03394916', 'n03417042', 'n03425413', 'n03445777', 'n03888257'];

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wgt-data-test-'));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** sharp's plain decode of a file to RGB uint8 (no resize), the reference for an image already S×S. */
async function sharpRgb(path: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(path).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  assert.is(info.channels, 3, `${path}: reference decode has ${info.channels} channels`);
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

function imageOf(images: Uint8Array, size: number, i: number): Uint8Array {
  const px = size * size * 3;
  return images.subarray(i * px, (i + 1) * px);
}

function assertBytesEqual(actual: Uint8Array, expected: Uint8Array, label: string): void {
  assert.is(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) assert.unreachable(`${label}: byte ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

function tempOptions(dir: string, log: string[] = []): LoadOptions {
  return { cacheDir: join(dir, 'cache'), log: (line) => log.push(line) };
}

/** Copies k images of each of the sample's first `classes` val classes into dir/<split>/<wnid>/. */
function copySample(dir: string, split: string, classes: number, k: number): string[] {
  const copied: string[] = [];
  for (const wnid of WNIDS.slice(0, classes)) {
    const from = join(sampleRoot(), 'val', wnid);
    mkdirSync(join(dir, split, wnid), { recursive: true });
    for (const name of readdirSync(from).sort().slice(0, k)) {
      copyFileSync(join(from, name), join(dir, split, wnid, name));
      copied.push(`${wnid}/${name}`);
    }
  }
  return copied;
}

async function writeRaw(path: string, data: Uint8Array, width: number, height: number, channels: 1 | 3 | 4, format: 'png' | 'jpeg'): Promise<void> {
  let img = sharp(Buffer.from(data), { raw: { width, height, channels } });
  if (channels === 1) img = img.toColourspace('b-w'); // else sharp writes a 3-channel file
  await (format === 'png' ? img.png() : img.jpeg({ quality: 95 })).toFile(path);
}

function randomBytesFrom(g: Generator, n: number): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = g.nextU32() & 255;
  return a;
}

// ---------------------------------------------------------------- ImageFolder scanning

test('the shipped sample scans as 10 sorted wnid classes with 50 train and 20 val JPEGs each', () => {
  const root = sampleRoot();
  for (const [split, perClass] of [['train', 50], ['val', 20]] as const) {
    const scan = scanImageFolder(root, split);
    assert.equal(scan.classes, WNIDS, `${split} classes`);
    assert.equal(classCounts(scan), new Array(10).fill(perClass), `${split} per-class counts`);
    assert.equal(scan.ignored, [], `${split}: nothing but images`);
    for (const f of scan.files) {
      assert.ok(f.rel.endsWith('.jpg'), f.rel);
      assert.is(scan.classes[f.label], f.rel.split('/')[0], `${f.rel}: label from its folder`);
      assert.is(f.bytes, statSync(f.path).size);
    }
    const rels = scan.files.map((f) => f.rel);
    assert.equal(rels, [...rels].sort(), `${split}: files in sorted order`);
  }
  // val indexed by train's class list gives the same labels
  const train = scanImageFolder(root, 'train');
  const val = scanImageFolder(root, 'val', { classes: train.classes });
  assert.equal(val.files.map((f) => f.label), scanImageFolder(root, 'val').files.map((f) => f.label));
});

test('scanning refuses a missing folder, an empty tree and folders outside a given class list', async () => {
  await withTempDir(async (dir) => {
    assertThrows(() => scanImageFolder(dir, 'train'), 'scanImageFolder', join(dir, 'train'), '<class>/<image>');
    mkdirSync(join(dir, 'train', 'cat'), { recursive: true });
    writeFileSync(join(dir, 'train', 'cat', 'readme.txt'), 'not an image');
    assertThrows(() => scanImageFolder(dir, 'train'), 'scanImageFolder', 'no images', '1 class');
    assertThrows(() => scanImageFolder(dir, 'train', { classes: ['dog'] }), 'scanImageFolder', '[cat]', 'not in the given class list', '[dog]');
    await assertRejects(() => loadImageFolder(dir, 'train', 0, tempOptions(dir)), 'loadImageFolder', 'image size', 'got 0');
  });
});

// ---------------------------------------------------------------- the cache

test('the sample val cache reads back equal to sharp decoding each file, with folder labels', async () => {
  await withTempDir(async (dir) => {
    const progress: number[] = [];
    const built = await loadImageFolder(sampleRoot(), 'val', 64, { ...tempOptions(dir), onProgress: (p) => progress.push(p.done) });
    assert.is(built.fromCache, false);
    assert.is(built.count, 200);
    assert.is(built.images.length, 200 * 64 * 64 * 3);
    assert.equal(progress, Array.from({ length: 200 }, (_, i) => i + 1), 'one progress call per image, in order');
    assert.ok(statSync(built.cacheFile).isFile(), 'cache file written');
    assert.ok(built.cacheFile.startsWith(join(dir, 'cache')), 'cache file in cacheDir');
    assert.equal(readdirSync(join(dir, 'cache')).filter((n) => n.endsWith('.tmp')), [], 'no temporary file left');

    progress.length = 0;
    const hit = await loadImageFolder(sampleRoot(), 'val', 64, tempOptions(dir));
    assert.is(hit.fromCache, true);
    assert.is(hit.rebuildReason, null);
    assert.equal(progress, [], 'a cache hit decodes nothing');
    assertBytesEqual(hit.images, built.images, 'cache hit vs build');
    assert.equal(Array.from(hit.labels), Array.from(built.labels));
    assert.equal(hit.paths, built.paths);

    for (let i = 0; i < hit.count; i++) {
      assert.is(hit.labels[i], WNIDS.indexOf(hit.paths[i]!.split('/')[0]!), `label of ${hit.paths[i]}`);
    }
    // Pixels: the sample is 64×64, so the cache at S = 64 must equal sharp's plain decode exactly.
    // Checked for random images plus the three grayscale val images (which must come out R = G = B).
    const g = caseGenerator();
    const gray = ['n03028079/ILSVRC2012_val_00003351.jpg', 'n03028079/n03028079_7260.jpg', 'n03028079/n03028079_901.jpg'];
    const picks = new Set([...Array.from({ length: 12 }, () => g.int(hit.count)), ...gray.map((p) => hit.paths.indexOf(p))]);
    for (const i of picks) {
      assert.ok(i >= 0, 'grayscale image present');
      const ref = await sharpRgb(join(sampleRoot(), 'val', hit.paths[i]!));
      assertBytesEqual(imageOf(hit.images, 64, i), ref.data, hit.paths[i]!);
    }
    for (const p of gray) {
      const img = imageOf(hit.images, 64, hit.paths.indexOf(p));
      for (let k = 0; k < img.length; k += 3) {
        if (img[k] !== img[k + 1] || img[k] !== img[k + 2]) assert.unreachable(`${p}: pixel ${k / 3} is not gray`);
      }
    }
  });
});

test('resizing matches sharp at S below the file size; non-square images keep the centre square', async () => {
  await withTempDir(async (dir) => {
    const files = copySample(dir, 'train', 2, 2);
    const data = await loadImageFolder(dir, 'train', 24, tempOptions(dir));
    assert.equal(data.paths, files);
    for (let i = 0; i < files.length; i++) {
      const ref = await sharp(join(dir, 'train', files[i]!)).resize(24, 24).toColourspace('srgb').raw().toBuffer();
      assertBytesEqual(imageOf(data.images, 24, i), new Uint8Array(ref), `${files[i]} at 24px`);
    }
    // 60×20 landscape and 20×60 portrait PNGs made of three 20-pixel bands (red, green, blue
    // channel set, value 200 + position within the band): at S = 20 the shorter side already is S,
    // so the result must be exactly the middle (green) band.
    mkdirSync(join(dir, 'crop', 'x'), { recursive: true });
    for (const portrait of [false, true]) {
      const [w, h] = portrait ? [20, 60] : [60, 20];
      const px = new Uint8Array(w * h * 3);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const along = portrait ? y : x;
          px[(y * w + x) * 3 + Math.floor(along / 20)] = 200 + (along % 20);
        }
      }
      await writeRaw(join(dir, 'crop', 'x', `${portrait ? 'portrait' : 'landscape'}.png`), px, w, h, 3, 'png');
    }
    const crop = await loadImageFolder(dir, 'crop', 20, tempOptions(dir));
    assert.equal(crop.paths, ['x/landscape.png', 'x/portrait.png']);
    crop.paths.forEach((p, i) => {
      const img = imageOf(crop.images, 20, i);
      const expected = new Uint8Array(20 * 20 * 3);
      for (let y = 0; y < 20; y++) for (let x = 0; x < 20; x++) expected[(y * 20 + x) * 3 + 1] = 200 + (p.startsWith('x/portrait') ? y : x);
      assertBytesEqual(img, expected, `${p} centre crop`);
    });
  });
});

test('a changed dataset (a replaced file, an added file) rebuilds the cache; another S gets its own file', async () => {
  await withTempDir(async (dir) => {
    const files = copySample(dir, 'train', 2, 3);
    const first = await loadImageFolder(dir, 'train', 16, tempOptions(dir));
    assert.is(first.fromCache, false);
    assert.is((await loadImageFolder(dir, 'train', 16, tempOptions(dir))).fromCache, true);

    // Replace the first image with the last one's bytes (different size) and move its mtime.
    const target = join(dir, 'train', files[0]!);
    const donor = join(dir, 'train', files[files.length - 1]!);
    copyFileSync(donor, target);
    const later = new Date(Date.now() + 5000);
    utimesSync(target, later, later);
    const changed = await loadImageFolder(dir, 'train', 16, tempOptions(dir));
    assert.is(changed.fromCache, false);
    assert.match(changed.rebuildReason ?? '', 'dataset changed');
    assertBytesEqual(imageOf(changed.images, 16, 0), imageOf(changed.images, 16, files.length - 1), 'replaced image now decodes as the donor');
    assert.not.ok(imageOf(first.images, 16, 0).every((v, k) => v === imageOf(first.images, 16, files.length - 1)[k]), 'and did not before');

    // Only the mtime changes: still a rebuild (sizes and mtimes are the fingerprint).
    const again = new Date(Date.now() + 10000);
    utimesSync(target, again, again);
    assert.is((await loadImageFolder(dir, 'train', 16, tempOptions(dir))).fromCache, false);

    copyFileSync(donor, join(dir, 'train', WNIDS[1]!, 'zz-added.jpg'));
    const added = await loadImageFolder(dir, 'train', 16, tempOptions(dir));
    assert.is(added.fromCache, false);
    assert.is(added.count, files.length + 1);
    assert.is(added.paths[added.count - 1], `${WNIDS[1]}/zz-added.jpg`);
    assert.is(added.labels[added.count - 1], 1);

    const other = await loadImageFolder(dir, 'train', 8, tempOptions(dir));
    assert.is(other.fromCache, false);
    assert.is.not(other.cacheFile, added.cacheFile);
    assert.is((await loadImageFolder(dir, 'train', 16, tempOptions(dir))).fromCache, true, 'the 16px cache survives the 8px one');
  });
});

test('a corrupt JPEG, a text file named .jpg and a garbage PNG are skipped and counted; other files ignored', async () => {
  await withTempDir(async (dir) => {
    const files = copySample(dir, 'train', 2, 2);
    const good = readFileSync(join(dir, 'train', files[0]!));
    const a = join(dir, 'train', WNIDS[0]!);
    const b = join(dir, 'train', WNIDS[1]!);
    writeFileSync(join(a, 'truncated.jpg'), good.subarray(0, Math.floor(good.length / 2)));
    writeFileSync(join(a, 'fake.jpg'), 'this is a text file, not a JPEG\n');
    writeFileSync(join(b, 'garbage.PNG'), randomBytesFrom(caseGenerator(), 3000));
    writeFileSync(join(b, 'notes.txt'), 'not an image');
    writeFileSync(join(b, '.DS_Store'), 'hidden');
    const log: string[] = [];
    const data = await loadImageFolder(dir, 'train', 32, tempOptions(dir, log));
    assert.is(data.count, files.length);
    assert.equal(data.paths, files);
    for (let i = 0; i < files.length; i++) {
      // the kept images close ranks over the skipped ones (which sort between them)
      const ref = await sharp(join(dir, 'train', files[i]!)).resize(32, 32).toColourspace('srgb').raw().toBuffer();
      assertBytesEqual(imageOf(data.images, 32, i), new Uint8Array(ref), `${files[i]} after skipped files`);
    }
    assert.equal(data.skipped.map((s) => s.rel).sort(), [`${WNIDS[0]}/fake.jpg`, `${WNIDS[0]}/truncated.jpg`, `${WNIDS[1]}/garbage.PNG`]);
    for (const s of data.skipped) assert.ok(s.reason.length > 0, `${s.rel} has a reason`);
    assert.equal(data.ignored, [`${WNIDS[1]}/.DS_Store`, `${WNIDS[1]}/notes.txt`]);
    assert.ok(log.some((l) => l.includes('skipped 3 of 7 images')), `log counts the skipped images: ${log.join(' | ')}`);
    assert.ok(log.some((l) => l.includes('ignored 2')), 'log counts the ignored files');

    log.length = 0;
    const hit = await loadImageFolder(dir, 'train', 32, tempOptions(dir, log));
    assert.is(hit.fromCache, true);
    assert.equal(hit.skipped, data.skipped, 'the skipped list is kept in the cache');
    assert.ok(log.some((l) => l.includes('3 skipped')), 'a cache hit still reports them');
  });
});

test('a truncated, padded, foreign or stale-format cache file is detected and rebuilt', async () => {
  await withTempDir(async (dir) => {
    copySample(dir, 'train', 2, 2);
    const built = await loadImageFolder(dir, 'train', 16, tempOptions(dir));
    const file = built.cacheFile;
    const full = readFileSync(file);
    const damages: [string, () => void, string][] = [
      ['cut in the pixels', () => truncateSync(file, full.length - 100), 'truncated'],
      ['cut to the end marker', () => truncateSync(file, full.length - 3), 'truncated'],
      ['cut in the header', () => truncateSync(file, 40), 'truncated'],
      ['cut to 5 bytes', () => truncateSync(file, 5), 'truncated'],
      ['empty', () => writeFileSync(file, ''), 'truncated'],
      ['padded', () => writeFileSync(file, Buffer.concat([full, Buffer.alloc(7)])), 'too long'],
      ['foreign', () => writeFileSync(file, randomBytesFrom(caseGenerator(), full.length)), 'bad magic'],
      ['other version', () => writeFileSync(file, Buffer.concat([full.subarray(0, 8), Buffer.from([9, 0, 0, 0]), full.subarray(12)])), 'version 9'],
      ['broken header', () => writeFileSync(file, Buffer.concat([full.subarray(0, 16), Buffer.from('}{'), full.subarray(18)])), 'JSON'],
      ['bad end marker', () => writeFileSync(file, Buffer.concat([full.subarray(0, full.length - 1), Buffer.from('X')])), 'end marker'],
    ];
    for (const [what, damage, reason] of damages) {
      damage();
      const rebuilt = await loadImageFolder(dir, 'train', 16, tempOptions(dir));
      assert.is(rebuilt.fromCache, false, `${what}: not read`);
      assert.match(rebuilt.rebuildReason ?? '', reason, `${what}: reason "${rebuilt.rebuildReason}"`);
      assertBytesEqual(rebuilt.images, built.images, `${what}: rebuilt pixels`);
      assertBytesEqual(readFileSync(file), full, `${what}: rewritten file`);
    }
    assert.equal(readdirSync(join(dir, 'cache')).filter((n) => n.endsWith('.tmp')), [], 'no temporary file left');
  });
});

test('grayscale, CMYK, RGBA and 16-bit images come out as 3-channel 8-bit RGB', async () => {
  await withTempDir(async (dir) => {
    const S = 16;
    const g = caseGenerator();
    const rgb = randomBytesFrom(g, S * S * 3);
    const gray = randomBytesFrom(g, S * S);
    // A smooth colour image for the lossy CMYK JPEG (random noise would not survive JPEG).
    const smooth = new Uint8Array(S * S * 3);
    for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) smooth.set([40 + 10 * x, 60 + 8 * y, 200 - 5 * x], (y * S + x) * 3);
    const cls = join(dir, 'train', 'c');
    mkdirSync(cls, { recursive: true });
    await writeRaw(join(cls, 'a-gray.png'), gray, S, S, 1, 'png');
    await writeRaw(join(cls, 'b-gray.jpg'), gray, S, S, 1, 'jpeg');
    await sharp(Buffer.from(smooth), { raw: { width: S, height: S, channels: 3 } }).toColourspace('cmyk').jpeg({ quality: 95 }).toFile(join(cls, 'c-cmyk.jpg'));
    const rgba = new Uint8Array(S * S * 4);
    for (let i = 0; i < S * S; i++) rgba.set([rgb[3 * i]!, rgb[3 * i + 1]!, rgb[3 * i + 2]!, g.nextU32() & 255], 4 * i);
    await writeRaw(join(cls, 'd-rgba.png'), rgba, S, S, 4, 'png');
    await sharp(Buffer.from(rgb), { raw: { width: S, height: S, channels: 3 } }).toColourspace('rgb16').png().toFile(join(cls, 'e-16bit.png'));
    assert.is((await sharp(join(cls, 'c-cmyk.jpg')).metadata()).space, 'cmyk', 'the fixture really is CMYK');
    assert.is((await sharp(join(cls, 'e-16bit.png')).metadata()).depth, 'ushort', 'the fixture really is 16-bit');
    assert.is((await sharp(join(cls, 'b-gray.jpg')).metadata()).channels, 1, 'the fixture really is 1-channel');

    const data = await loadImageFolder(dir, 'train', S, tempOptions(dir));
    assert.equal(data.paths, ['c/a-gray.png', 'c/b-gray.jpg', 'c/c-cmyk.jpg', 'c/d-rgba.png', 'c/e-16bit.png']);
    assert.equal(data.skipped, []);
    assert.is(data.images.length, 5 * S * S * 3);
    const expand = (v: Uint8Array) => Uint8Array.from({ length: v.length * 3 }, (_, k) => v[Math.floor(k / 3)]!);
    assertBytesEqual(imageOf(data.images, S, 0), expand(gray), 'grayscale PNG → R = G = B = gray (lossless, exact)');
    const grayJpeg = imageOf(data.images, S, 1);
    const grayJpegRef = new Uint8Array(await sharp(join(cls, 'b-gray.jpg')).toColourspace('b-w').raw().toBuffer());
    assert.is(grayJpegRef.length, S * S, 'the reference decode of the gray JPEG is 1 channel');
    assertBytesEqual(grayJpeg, expand(grayJpegRef), 'grayscale JPEG → R = G = B = its decoded gray');
    // CMYK: colour survives the RGB → CMYK → RGB profile round trip and JPEG: mean |error| per
    // channel ≤ 12 levels (of 255), and the channel means keep their order (blue > green > red).
    const cmyk = imageOf(data.images, S, 2);
    const mean = (img: Uint8Array, c: number) => img.filter((_, k) => k % 3 === c).reduce((s, v) => s + v, 0) / (S * S);
    for (let c = 0; c < 3; c++) {
      let err = 0;
      for (let k = c; k < cmyk.length; k += 3) err += Math.abs(cmyk[k]! - smooth[k]!);
      assert.ok(err / (S * S) <= 12, `CMYK channel ${c}: mean abs error ${(err / (S * S)).toFixed(1)} > 12`);
    }
    assert.ok(mean(cmyk, 2) > mean(cmyk, 1) && mean(cmyk, 1) > mean(cmyk, 0), 'CMYK colour kept');
    assertBytesEqual(imageOf(data.images, S, 3), rgb, 'RGBA PNG → its RGB, alpha dropped (exact)');
    assertBytesEqual(imageOf(data.images, S, 4), rgb, '16-bit PNG → 8-bit RGB (exact for 8-bit-representable values)');
  });
});

// ---------------------------------------------------------------- the epoch loader

/** A synthetic set whose image i stores i in its first two bytes and its label in the third. */
function indexedSet(count: number, size: number, classes: number): ImageSet {
  const px = size * size * 3;
  const images = new Uint8Array(count * px);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = (i * 7) % classes;
    images.fill(i % 251, i * px, (i + 1) * px);
    images[i * px] = i & 255;
    images[i * px + 1] = i >> 8;
    images[i * px + 2] = labels[i]!;
  }
  return { images, labels, size, count };
}

function checkBatch(set: ImageSet, b: Batch): void {
  const px = set.size * set.size * 3;
  assert.is(b.images.length, b.count * px);
  for (let j = 0; j < b.count; j++) {
    const src = b.indices[j]!;
    assert.is(b.labels[j], set.labels[src], 'label follows its image');
    assertBytesEqual(b.images.subarray(j * px, (j + 1) * px), set.images.subarray(src * px, (src + 1) * px), `batch image ${j} = source ${src}`);
  }
}

const indicesOf = (batches: Batch[]) => batches.flatMap((b) => Array.from(b.indices));

test('each epoch hands out every image at most once, all but count % batch with drop_last, all without', () => {
  for (const [count, batchSize] of [[1, 1], [7, 3], [103, 1], [103, 8], [103, 10], [103, 103], [64, 16], [65, 16], [63, 16]] as const) {
    const set = indexedSet(count, 2, 5);
    const seed = caseGenerator().nextU32();
    const loader = new EpochLoader(set, { batchSize, seed });
    assert.is(loader.batchesPerEpoch, Math.floor(count / batchSize));
    const orders: number[][] = [];
    for (let epoch = 0; epoch < 3; epoch++) {
      assert.is(loader.epoch, epoch);
      const batches = [...loader.nextEpoch()];
      assert.is(batches.length, loader.batchesPerEpoch, `${count}/${batchSize}: batches per epoch`);
      batches.forEach((b, k) => {
        assert.is(b.count, batchSize, 'full batches only');
        assert.is(b.index, k);
        assert.is(b.epoch, epoch);
        checkBatch(set, b);
      });
      const seen = indicesOf(batches);
      assert.is(new Set(seen).size, seen.length, `${count}/${batchSize} epoch ${epoch}: an image repeated`);
      assert.is(seen.length, count - (count % batchSize));
      assert.ok(seen.every((i) => i >= 0 && i < count));
      orders.push(seen);
    }
    if (count >= 50) assert.not.equal(orders[0], orders[1], `${count}/${batchSize}: epochs are reshuffled`);

    const all = new EpochLoader(set, { batchSize, seed, dropLast: false });
    const batches = [...all.nextEpoch()];
    assert.is(batches.length, Math.ceil(count / batchSize));
    assert.is(batches[batches.length - 1]!.count, count % batchSize || batchSize, 'short last batch');
    batches.forEach((b) => checkBatch(set, b));
    assert.equal(indicesOf(batches).sort((x, y) => x - y), Array.from({ length: count }, (_, i) => i), 'without drop_last: all, once');
  }
  const ordered = new EpochLoader(indexedSet(10, 1, 2), { batchSize: 4, shuffle: false });
  assert.equal(indicesOf([...ordered.nextEpoch()]), [0, 1, 2, 3, 4, 5, 6, 7]);
});

test('batches are reproducible from a seed, and differ between seeds', () => {
  const set = indexedSet(97, 3, 10);
  const seed = caseGenerator().nextU32();
  const run = (s: number) => {
    const loader = new EpochLoader(set, { batchSize: 12, seed: s });
    return [0, 1, 2].map(() => [...loader.nextEpoch()]);
  };
  const a = run(seed);
  const b = run(seed);
  for (let e = 0; e < 3; e++) {
    assert.equal(indicesOf(a[e]!), indicesOf(b[e]!), `epoch ${e}: same order`);
    a[e]!.forEach((batch, k) => assertBytesEqual(batch.images, b[e]![k]!.images, `epoch ${e} batch ${k}`));
  }
  assert.not.equal(indicesOf(run(seed + 1)[0]!), indicesOf(a[0]!), 'another seed, another order');
  // A passed-in generator is used as is: same state, same order.
  const gen = new Generator(seed);
  assert.equal(indicesOf([...new EpochLoader(set, { batchSize: 12, generator: gen }).nextEpoch()]), indicesOf(a[0]!));
});

test('a loader restored from a saved state (mid-epoch or between epochs) continues the same sequence', () => {
  const set = indexedSet(50, 2, 4);
  const seed = caseGenerator().nextU32();
  const reference = new EpochLoader(set, { batchSize: 6, seed });
  const expected = [0, 1, 2, 3].map(() => indicesOf([...reference.nextEpoch()]).join());

  assert.is(reference.batchesPerEpoch, 8);
  for (const [stopEpoch, stopBatch] of [[0, 0], [0, 3], [1, 0], [1, 1], [1, 5], [2, 7]] as const) {
    const original = new EpochLoader(set, { batchSize: 6, seed });
    const before: number[][] = [];
    for (let e = 0; e < stopEpoch; e++) before.push(indicesOf([...original.nextEpoch()]));
    const partial: number[] = [];
    if (stopBatch > 0) {
      for (const b of original.nextEpoch()) {
        partial.push(...b.indices);
        if (b.index === stopBatch - 1) break;
      }
    }
    // Saved as JSON, as a checkpoint would, and restored into a loader with another seed.
    const saved = JSON.parse(JSON.stringify(original.state()));
    const label = `stopped at epoch ${stopEpoch} batch ${stopBatch}`;
    const resumed = new EpochLoader(set, { batchSize: 6, seed: seed + 12345 });
    resumed.restore(saved);
    const rest = indicesOf([...resumed.nextEpoch()]);
    const cont = indicesOf([...original.nextEpoch()]);
    assert.equal(rest, cont, `${label}: the rest of the epoch`);
    assert.is([...partial, ...rest].join(), expected[stopEpoch], `${label}: partial + rest = the uninterrupted epoch`);
    assert.is(indicesOf([...resumed.nextEpoch()]).join(), expected[stopEpoch + 1], `${label}: the next epoch`);
    assert.is(resumed.epoch, stopEpoch + 2);
  }
  // Breaking out of an epoch and calling nextEpoch() again continues it.
  const l = new EpochLoader(set, { batchSize: 6, seed });
  const first = l.nextEpoch().next().value as Batch;
  assert.is(first.index, 0);
  assert.is([...first.indices, ...indicesOf([...l.nextEpoch()])].join(), expected[0]);
  // Breaking out right after an epoch's last batch: the state is the start of the next epoch, and
  // both the original and a restored loader go on with it.
  const end = new EpochLoader(set, { batchSize: 6, seed });
  for (const b of end.nextEpoch()) if (b.index === end.batchesPerEpoch - 1) break;
  const atEnd = end.state();
  assert.is(atEnd.epoch, 1);
  assert.is(atEnd.batch, 0);
  const restored = new EpochLoader(set, { batchSize: 6 });
  restored.restore(atEnd);
  assert.is(indicesOf([...end.nextEpoch()]).join(), expected[1], 'original after a break at the end');
  assert.is(indicesOf([...restored.nextEpoch()]).join(), expected[1], 'restored after a break at the end');
});

test('the loader refuses bad batch sizes and inconsistent image sets', () => {
  const set = indexedSet(10, 2, 3);
  assertThrows(() => new EpochLoader(set, { batchSize: 0 }), 'EpochLoader', 'batch size', 'got 0');
  assertThrows(() => new EpochLoader(set, { batchSize: 2.5 }), 'EpochLoader', 'batch size');
  assertThrows(() => new EpochLoader(set, { batchSize: 11 }), 'EpochLoader', 'batch size 11', 'drop_last', '10 images');
  assertThrows(() => new EpochLoader({ ...set, count: 11 }, { batchSize: 2 }), 'EpochLoader', '11 images', '132 bytes', '120 bytes');
  const loader = new EpochLoader(set, { batchSize: 3 });
  assertThrows(() => loader.restore({ ...loader.state(), batch: 4 }), 'EpochLoader.restore', 'batch 4', '3 batches');
});

test.run();
