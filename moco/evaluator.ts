// The trainer's evaluator: the kNN monitor (train images as the bank, val images as the queries)
// and the plots written beside the log (loss.svg, knn.svg, embedding.svg, each also as PNG).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getContext } from '../lib/index';
import type { EpochRecord } from './checkpoint';
import { extractionBatch, type MocoConfig } from './config';
import type { ImageDataset } from './data/cache';
import { extractFeatures, knnAccuracySvg, knnClassify, lossCurveSvg, pcaEmbeddingSvg, readableClassNames, svgToPng } from './eval/index';
import type { MocoModel } from './model';
import type { Evaluator } from './trainer';

export class KnnEvaluator implements Evaluator {
  /** Val features of the last kNN run (for the embedding plot). */
  private lastValFeatures: { features: Float32Array; dim: number } | null = null;

  constructor(
    private readonly config: MocoConfig,
    private readonly train: ImageDataset,
    private readonly val: ImageDataset,
    private readonly onProgress?: (label: string, done: number, total: number) => void,
  ) {}

  async knn(model: MocoModel): Promise<number> {
    const c = this.config;
    const extract = {
      features: c.knnFeatures,
      batchSize: extractionBatch(c, getContext().limits.maxStorageBufferBindingSize),
      outputSize: c.imageSize,
    };
    const bank = await extractFeatures(model.encoderQ, this.train.images, this.train.count, this.train.size, {
      ...extract,
      onProgress: (done, total) => this.onProgress?.('kNN bank', done, total),
    });
    const queries = await extractFeatures(model.encoderQ, this.val.images, this.val.count, this.val.size, {
      ...extract,
      onProgress: (done, total) => this.onProgress?.('kNN queries', done, total),
    });
    const dim = bank.length / this.train.count;
    this.lastValFeatures = { features: queries, dim };
    const result = await knnClassify(
      { features: bank, labels: this.train.labels },
      { features: queries, labels: this.val.labels },
      dim,
      { k: c.knnK, t: c.knnT, numClasses: this.train.classes.length },
    );
    return result.top1;
  }

  async plots(_model: MocoModel, steps: { step: number; loss: number; lr: number }[], history: EpochRecord[], initialKnn: number | null): Promise<void> {
    const out = this.config.out;
    const write = async (name: string, svg: string) => {
      writeFileSync(join(out, `${name}.svg`), svg);
      writeFileSync(join(out, `${name}.png`), await svgToPng(svg));
    };
    if (steps.length > 0) {
      await write(
        'loss',
        lossCurveSvg(
          { x: steps.map((s) => s.step + 1), loss: steps.map((s) => s.loss), lr: steps.map((s) => s.lr), smooth: 0.9 },
          { title: 'MoCo training loss (InfoNCE)', xLabel: 'step' },
        ),
      );
    }
    const evaluated = history.filter((h) => h.knn !== undefined);
    const epochs = [...(initialKnn !== null ? [0] : []), ...evaluated.map((h) => h.epoch)];
    const top1 = [...(initialKnn !== null ? [initialKnn] : []), ...evaluated.map((h) => h.knn!)];
    if (epochs.length > 0) await write('knn', knnAccuracySvg(epochs, top1, { title: `kNN top-1 on val (k ${this.config.knnK})` }));
    if (this.lastValFeatures) {
      const { features, dim } = this.lastValFeatures;
      await write(
        'embedding',
        pcaEmbeddingSvg(features, this.val.count, dim, this.val.labels, readableClassNames(this.val.classes), {
          title: `Val features by class (PCA), epoch ${history.length}`,
        }),
      );
    }
  }
}
