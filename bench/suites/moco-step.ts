// One MoCo-v2 training step at batch 32 on 32×32 images (cifar stem, MLP head 512→512→128, K 4096,
// asymmetric loss, SGD): augmentation of two views, query forward+backward, momentum update, key
// forward, loss, optimizer step, enqueue — what the trainer does per step.
import { Generator, gatherRows, scope, SGD } from '../../lib/index';
import { drawBatchParams } from '../../moco/augment/params';
import { augment, uploadImages } from '../../moco/augment/pipeline';
import { resolveConfig } from '../../moco/config';
import { MocoModel } from '../../moco/model';
import type { BenchCase } from '../harness';

function mocoStep(batch: number, size: number, queueSize: number) {
  const { config } = resolveConfig(
    { imageSize: size, stem: 'cifar', batchSize: batch, queueSize, bnSplits: 1, epochs: 1 },
    { trainSize: 100_000, numClasses: 10 },
  );
  const g = new Generator(0);
  const model = new MocoModel(config, g);
  const opt = new SGD(model.encoderQ.parameters(), { lr: config.lr, momentum: 0.9, weightDecay: 1e-4 });
  const pixels = new Uint8Array(batch * size * size * 3).map((_, i) => (i * 7919) % 256);
  return {
    run: () =>
      scope(() => {
        const images = uploadImages(pixels, batch, size, size);
        const v1 = augment(images, drawBatchParams(g, batch, size, size, config.augment), { size });
        const v2 = augment(images, drawBatchParams(g, batch, size, size, config.augment), { size });
        const perm = g.permutation(batch);
        opt.zeroGrad();
        const { loss, keys } = model.forward({ query: v1, keyShuffled: gatherRows(v2, perm), perm });
        loss.backward();
        opt.step();
        model.enqueue(keys);
      }),
    dispose: () => {
      opt.dispose();
      model.dispose();
    },
  };
}

export function cases(options: { quick: boolean }): BenchCase[] {
  const batch = options.quick ? 8 : 32;
  return [
    {
      bench: 'moco-step',
      shape: `cifar ${batch}x3x32x32 K4096 dim128`,
      images: batch,
      ours: () => mocoStep(batch, 32, 4096),
      torch: `moco-step:${batch}:32:4096:128`,
    },
  ];
}
