// MoCo-v2 augmentation: two views of a batch, as the trainer makes them every step. Each case is
// timed two ways: "step" = upload the packed uint8 batch once, draw both views' parameters on the
// CPU, run both GPU calls (what a training step pays); "gpu" = the two GPU calls on a batch
// uploaded and parameters drawn beforehand. images/s counts source images (each gives two views).
// Sizes: 32 images of 32 px (CIFAR), 32 of 64 px, 256 of 160 px cropped to 128 px (Imagenette-160).
// The last row times x·2 on a tensor the size of one 256×128 view, to read the others as ratios
// on a machine whose load varies.
import { Generator, randn, type GpuContext } from '../../lib/index';
import { drawViews } from '../../moco/augment/params';
import { augment, uploadImages } from '../../moco/augment/pipeline';
import type { BenchCase, Prepared } from '../harness';

function randomBytes(n: number, seed: number): Uint8Array {
  const g = new Generator(seed);
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const v = g.nextU32();
    for (let k = 0; k < 4 && i + k < n; k++) bytes[i + k] = (v >>> (8 * k)) & 255;
  }
  return bytes;
}

function augmentCase(count: number, inSize: number, outSize: number, mode: 'step' | 'gpu'): BenchCase {
  return {
    bench: `augment 2 views (${mode})`,
    shape: `${count}×${inSize}px→${outSize}`,
    images: count,
    ours(ctx: GpuContext): Prepared {
      const bytes = randomBytes(count * inSize * inSize * 3, count + inSize);
      const g = new Generator(7);
      if (mode === 'step') {
        return {
          run: () => {
            const batch = uploadImages(bytes, count, inSize, inSize, { ctx });
            const views = drawViews(g, count, inSize, inSize).map((params) => augment(batch, params, { size: outSize }));
            batch.data.dispose();
            return views;
          },
          dispose: () => {},
        };
      }
      const batch = uploadImages(bytes, count, inSize, inSize, { ctx });
      const views = drawViews(g, count, inSize, inSize);
      return {
        run: () => views.map((params) => augment(batch, params, { size: outSize })),
        dispose: () => batch.data.dispose(),
      };
    },
  };
}

function referenceCase(count: number, size: number): BenchCase {
  const elements = count * 3 * size * size;
  return {
    bench: 'reference: x·2 (one view)',
    shape: `${count}×3×${size}×${size}`,
    bytes: 2 * 4 * elements,
    ours(ctx: GpuContext): Prepared {
      const x = randn([elements], { ctx });
      return { run: () => x.mul(2), dispose: () => x.dispose() };
    },
  };
}

export function cases(options: { quick: boolean } = { quick: false }): BenchCase[] {
  const sizes: [number, number, number][] = [
    [32, 32, 32],
    [32, 64, 64],
    [256, 160, 128],
  ];
  const list = sizes.flatMap(([n, i, o]) => [augmentCase(n, i, o, 'step'), augmentCase(n, i, o, 'gpu')]);
  list.push(referenceCase(256, 128));
  return options.quick ? list.slice(0, 2) : list;
}
