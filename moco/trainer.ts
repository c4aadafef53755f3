// The MoCo-v2 training loop: data, per-step GPU work (augment two views, query/key encoders, loss,
// backward, optimizer step, enqueue — one command submission per step), loss read back every few
// steps (one readback), the kNN monitor, a JSONL log, plots, checkpoints every epoch and every N
// minutes (atomic), exact resume, clean stop on SIGINT/SIGTERM, and a clear stop on a NaN/Inf loss
// that keeps the last good checkpoint.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Adam,
  cosineSchedule,
  Generator,
  gatherRows,
  getContext,
  memory,
  noGrad,
  scope,
  SGD,
  writeFileAtomic,
  zeros,
  type Optimizer,
  type Tensor,
} from '../lib/node';
import { drawBatchParams } from './augment/params';
import { augment, uploadImages } from './augment/pipeline';
import { NonFiniteStateError, readCheckpoint, restoreCheckpoint, saveCheckpoint, type EpochRecord, type TrainingState } from './checkpoint';
import type { MocoConfig } from './config';
import { EpochLoader, type Batch } from './data/loader';
import type { ImageDataset } from './data/cache';
import { MocoModel, type StepViews } from './model';
import { NonFiniteFeaturesError } from './eval/knn';
import type { Progress } from './progress';

export interface Evaluator {
  /** kNN top-1 (%) of the encoder: train images as the bank, val images as queries. */
  knn(model: MocoModel): Promise<number>;
  /** Writes the plots for the history so far (loss, kNN, embedding). */
  plots(model: MocoModel, steps: { step: number; loss: number; lr: number }[], history: EpochRecord[], initialKnn: number | null): Promise<void>;
}

export interface TrainerOptions {
  resume?: string;
  log: (line: string) => void;
  progress: Progress;
  evaluator: Evaluator;
  /** Stop after this many steps of this run (tests of interruption); the run saves and returns. */
  stopAfterSteps?: number;
}

export interface TrainResult {
  state: TrainingState;
  stoppedEarly: boolean;
  checkpoint: string;
}

export class NonFiniteLossError extends Error {}

function lrSchedule(c: MocoConfig, stepsPerEpoch: number): (epoch: number, step: number) => number {
  const total = c.scheduleBy === 'epoch' ? c.epochs : c.epochs * stepsPerEpoch;
  const f = cosineSchedule(c.lr, total, { minLr: c.minLr });
  return (epoch, step) => f(c.scheduleBy === 'epoch' ? epoch : step);
}

export class Trainer {
  readonly model: MocoModel;
  readonly optimizer: Optimizer;
  readonly loader: EpochLoader;
  readonly rng: Generator;
  readonly checkpointPath: string;
  private readonly logPath: string;
  private readonly schedule: (epoch: number, step: number) => number;
  private state: TrainingState;
  private readonly lossSlots: Tensor;
  private pendingSteps: { step: number; epoch: number; lr: number }[] = [];
  private readonly stepLog: { step: number; loss: number; lr: number }[] = [];
  private stopRequested = false;

  constructor(
    readonly config: MocoConfig,
    readonly train: ImageDataset,
    private readonly options: TrainerOptions,
  ) {
    const c = config;
    this.checkpointPath = join(c.out, 'checkpoint.safetensors');
    this.logPath = join(c.out, 'log.jsonl');
    this.model = new MocoModel(c, new Generator(c.seed));
    this.rng = new Generator(c.seed + 1);
    this.loader = new EpochLoader({ images: train.images, labels: train.labels, size: train.size, count: train.count }, {
      batchSize: c.batchSize,
      generator: new Generator(c.seed + 2),
    });
    const params = this.model.encoderQ.parameters();
    this.optimizer =
      c.optimizer === 'sgd'
        ? new SGD(params, { lr: c.lr, momentum: c.sgdMomentum, weightDecay: c.weightDecay })
        : new Adam(params, { lr: c.lr, weightDecay: c.weightDecay });
    this.schedule = lrSchedule(c, this.loader.batchesPerEpoch);
    this.lossSlots = zeros([c.logEvery]);
    this.state = {
      epoch: 0,
      batchInEpoch: 0,
      globalStep: 0,
      ptr: 0,
      loader: this.loader.state(),
      rng: this.rng.getState(),
      optimizerSteps: 0,
      epochLossSum: 0,
      history: [],
      initialKnn: null,
      dataset: { train: train.count, classes: [...train.classes] },
    };
  }

  private record(entry: Record<string, unknown>): void {
    appendFileSync(this.logPath, `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
  }

  /** Restores a checkpoint written by a run with the same configuration. */
  private resumeFrom(path: string): void {
    const loaded = readCheckpoint(path);
    const saved = loaded.meta.config;
    const differs = (['imageSize', 'stem', 'headHidden', 'dim', 'queueSize', 'batchSize', 'epochs', 'optimizer', 'symmetric', 'seed'] as const).filter(
      (k) => JSON.stringify(saved[k]) !== JSON.stringify(this.config[k]),
    );
    if (differs.length) {
      throw new Error(`--resume: the checkpoint was trained with different ${differs.join(', ')}; use the same options to resume`);
    }
    const before = loaded.meta.state.dataset;
    const now = this.state.dataset!;
    if (before && (before.train !== now.train || before.classes.join('\u0000') !== now.classes.join('\u0000'))) {
      throw new Error(
        `--resume: the checkpoint was trained on ${before.train} images of ${before.classes.length} classes (${before.classes.join(', ')}); ` +
          `the data now has ${now.train} images of ${now.classes.length} (${now.classes.join(', ')}). Resume on the same data set`,
      );
    }
    restoreCheckpoint(loaded, this.model, this.optimizer);
    this.state = { ...loaded.meta.state, dataset: now };
    this.loader.restore(this.state.loader);
    this.rng.setState(this.state.rng);
    this.restoreLog();
    this.record({ type: 'resume', step: this.state.globalStep, epoch: this.state.epoch, lr: this.config.lr });
    this.options.log(`resumed from ${path}: epoch ${this.state.epoch + 1}, batch ${this.state.batchInEpoch}, step ${this.state.globalStep}`);
  }

  /**
   * Keeps the run's log.jsonl up to the checkpoint: step and epoch lines written after it (a run
   * that crashed or was killed went on past its last save) are dropped, since they are run again,
   * and the kept step losses seed the loss plot. A missing log starts again empty.
   */
  private restoreLog(): void {
    if (!existsSync(this.logPath)) return;
    const kept: string[] = [];
    for (const line of readFileSync(this.logPath, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      let entry: { type?: string; step?: number; epoch?: number; loss?: number; lr?: number };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue; // a line cut short by a crash
      }
      if (entry.type === 'step' && (entry.step ?? Infinity) > this.state.globalStep) continue;
      if (entry.type === 'epoch' && (entry.epoch ?? Infinity) > this.state.epoch) continue;
      if (entry.type === 'step') this.stepLog.push({ step: entry.step! - 1, loss: entry.loss!, lr: entry.lr! });
      kept.push(line);
    }
    writeFileAtomic(this.logPath, new TextEncoder().encode(`${kept.join('\n')}${kept.length ? '\n' : ''}`));
  }

  /** The seed preset's queue: K real keys from the key encoder (no gradient), not random vectors. */
  private fillQueueWithKeys(): void {
    const c = this.config;
    const g = new Generator(c.seed + 3);
    const fill = new EpochLoader({ images: this.train.images, labels: this.train.labels, size: this.train.size, count: this.train.count }, {
      batchSize: c.batchSize,
      generator: g,
    });
    let written = 0;
    while (written < c.queueSize) {
      for (const batch of fill.nextEpoch()) {
        if (written >= c.queueSize) break;
        scope(() => {
          const images = uploadImages(batch.images, batch.count, batch.size, batch.size);
          const view = augment(images, drawBatchParams(g, batch.count, batch.size, batch.size, c.augment), { size: c.imageSize });
          const perm = g.permutation(batch.count);
          const keys = this.model.keys(noGrad(() => gatherRows(view, perm)), perm);
          this.model.enqueue(keys);
        });
        getContext().flush();
        written += c.batchSize;
      }
    }
    this.options.log(`queue filled with ${c.queueSize} keys of the key encoder`);
  }

  private views(batch: Batch): { a: StepViews; b?: StepViews } {
    const c = this.config;
    const n = batch.count;
    const images = uploadImages(batch.images, n, batch.size, batch.size);
    const v1 = augment(images, drawBatchParams(this.rng, n, batch.size, batch.size, c.augment), { size: c.imageSize });
    const v2 = augment(images, drawBatchParams(this.rng, n, batch.size, batch.size, c.augment), { size: c.imageSize });
    const perm1 = this.rng.permutation(n);
    if (!c.symmetric) return { a: { query: v1, keyShuffled: gatherRows(v2, perm1), perm: perm1 } };
    const perm2 = this.rng.permutation(n);
    return {
      a: { query: v1, keyShuffled: gatherRows(v1, perm1), perm: perm1 },
      b: { query: v2, keyShuffled: gatherRows(v2, perm2), perm: perm2 },
    };
  }

  /** Records one training step on the GPU (no readback); its loss goes to a slot of lossSlots. */
  private step(batch: Batch, lr: number): void {
    this.optimizer.lr = lr;
    scope(() => {
      const { a, b } = this.views(batch);
      this.optimizer.zeroGrad();
      const { loss, keys } = this.model.forward(a, b);
      loss.backward();
      this.optimizer.step();
      this.model.enqueue(keys);
      const slot = this.pendingSteps.length;
      const src = loss.storage.range;
      const dst = this.lossSlots.storage.range;
      loss.ctx.copy({ buffer: src.buffer, offset: src.offset, size: 4 }, { buffer: dst.buffer, offset: dst.offset + slot * 4, size: 4 });
    });
    getContext().flush();
  }

  /** Reads the losses of the steps since the last read; throws on a NaN or infinite loss. */
  private async drainLosses(): Promise<number> {
    if (this.pendingSteps.length === 0) return NaN;
    const values = await this.lossSlots.toArray();
    let last = NaN;
    this.pendingSteps.forEach((s, i) => {
      const loss = values[i]!;
      if (!Number.isFinite(loss)) throw this.diverged(`the loss became ${loss} at step ${s.step + 1} (epoch ${s.epoch + 1})`);
      this.state.epochLossSum += loss;
      this.stepLog.push({ step: s.step, loss, lr: s.lr });
      this.record({ type: 'step', step: s.step + 1, epoch: s.epoch + 1, loss, lr: s.lr });
      last = loss;
    });
    this.pendingSteps = [];
    return last;
  }

  /** The error that stops a run whose numbers diverged, with how to go on from the last good checkpoint. */
  private diverged(what: string): NonFiniteLossError {
    return new NonFiniteLossError(
      `${what}; training stopped. The last good checkpoint is ${this.checkpointPath}: continue from it with a lower ` +
        `learning rate, moco train --resume ${this.checkpointPath} --lr ${(this.config.lr / 2).toPrecision(2)} (half the current base lr).`,
    );
  }

  private async checkpoint(): Promise<void> {
    await this.drainLosses();
    this.state.ptr = this.model.ptr;
    this.state.loader = this.loader.state();
    this.state.rng = this.rng.getState();
    this.state.optimizerSteps = this.optimizer.stepCount;
    try {
      await saveCheckpoint(this.checkpointPath, this.model, this.optimizer, this.config, this.state);
    } catch (error) {
      if (error instanceof NonFiniteStateError) throw this.diverged(`after step ${this.state.globalStep} ${error.message}, so no checkpoint was written`);
      throw error;
    }
  }

  /** kNN top-1 of the model; features that are no longer finite mean the weights diverged. */
  private async knn(epoch: number): Promise<number> {
    try {
      return await this.options.evaluator.knn(this.model);
    } catch (error) {
      if (error instanceof NonFiniteFeaturesError) {
        throw this.diverged(`the encoder's features became non-finite in epoch ${epoch} (${error.message})`);
      }
      throw error;
    }
  }

  async run(): Promise<TrainResult> {
    const c = this.config;
    const { log, progress, evaluator } = this.options;
    mkdirSync(c.out, { recursive: true });
    if (this.options.resume) this.resumeFrom(this.options.resume);
    else {
      writeFileSync(this.logPath, ''); // a fresh run starts a fresh log (the CLI refuses to overwrite a run)
      this.record({ type: 'config', config: c });
      if (c.queueInit === 'keys') this.fillQueueWithKeys();
      this.state.initialKnn = await evaluator.knn(this.model);
      this.record({ type: 'knn', epoch: 0, top1: this.state.initialKnn });
      log(`kNN top-1 of the random-init encoder: ${this.state.initialKnn.toFixed(2)}%`);
      await this.checkpoint();
    }
    const onSignal = (signal: string) => {
      if (this.stopRequested) process.exit(130);
      this.stopRequested = true;
      // steps are queued on the GPU a log interval at a time; the signal is seen while one drains
      log(`\n${signal}: finishing the queued steps (up to ${c.logEvery}), saving a checkpoint, then stopping (again to quit at once)`);
    };
    const handlers = { SIGINT: () => onSignal('SIGINT'), SIGTERM: () => onSignal('SIGTERM') };
    process.on('SIGINT', handlers.SIGINT);
    process.on('SIGTERM', handlers.SIGTERM);
    let stepsThisRun = 0;
    let lastSave = Date.now();
    try {
      while (this.state.epoch < c.epochs) {
        const epoch = this.state.epoch;
        const started = Date.now();
        let imagesSeen = 0;
        progress.start(this.loader.batchesPerEpoch, `epoch ${epoch + 1}/${c.epochs}`);
        progress.update(this.state.batchInEpoch, {});
        for (const batch of this.loader.nextEpoch()) {
          const lr = this.schedule(epoch, this.state.globalStep);
          this.step(batch, lr);
          this.pendingSteps.push({ step: this.state.globalStep, epoch, lr });
          this.state.globalStep++;
          this.state.batchInEpoch++;
          imagesSeen += batch.count;
          stepsThisRun++;
          const last = this.state.batchInEpoch === this.loader.batchesPerEpoch;
          if (this.pendingSteps.length === c.logEvery || last) {
            const loss = await this.drainLosses();
            const seconds = (Date.now() - started) / 1000;
            progress.update(this.state.batchInEpoch, {
              loss: loss.toFixed(4),
              lr: lr.toPrecision(3),
              'img/s': (imagesSeen / seconds).toFixed(1),
            });
          }
          const stopNow = this.stopRequested || (this.options.stopAfterSteps !== undefined && stepsThisRun >= this.options.stopAfterSteps);
          if (stopNow && !last) {
            progress.stop();
            await this.checkpoint();
            log(`stopped at step ${this.state.globalStep}; resume with --resume ${this.checkpointPath}`);
            return { state: this.state, stoppedEarly: true, checkpoint: this.checkpointPath };
          }
          if (!last && Date.now() - lastSave > c.checkpointMinutes * 60_000) {
            await this.checkpoint();
            lastSave = Date.now();
          }
        }
        progress.stop();
        await this.drainLosses();
        const record: EpochRecord = {
          epoch: epoch + 1,
          loss: this.state.epochLossSum / this.loader.batchesPerEpoch,
          lr: this.schedule(epoch, this.state.globalStep - 1),
          seconds: (Date.now() - started) / 1000,
        };
        if ((epoch + 1) % c.knnEvery === 0 || epoch + 1 === c.epochs) record.knn = await this.knn(epoch + 1);
        this.state.history.push(record);
        this.state.epoch++;
        this.state.batchInEpoch = 0;
        this.state.epochLossSum = 0;
        this.record({ type: 'epoch', ...record, imagesPerSec: imagesSeen / record.seconds, memory: memory() });
        log(
          `epoch ${record.epoch}/${c.epochs}: loss ${record.loss.toFixed(4)}, lr ${record.lr.toPrecision(3)}, ` +
            `${(imagesSeen / record.seconds).toFixed(1)} img/s${record.knn !== undefined ? `, kNN top-1 ${record.knn.toFixed(2)}%` : ''}`,
        );
        await this.checkpoint();
        lastSave = Date.now();
        await evaluator.plots(this.model, this.stepLog, this.state.history, this.state.initialKnn);
        if (this.stopRequested || (this.options.stopAfterSteps !== undefined && stepsThisRun >= this.options.stopAfterSteps)) {
          const done = this.state.epoch >= c.epochs;
          if (!done) log(`stopped after epoch ${this.state.epoch}; resume with --resume ${this.checkpointPath}`);
          return { state: this.state, stoppedEarly: !done, checkpoint: this.checkpointPath };
        }
      }
      return { state: this.state, stoppedEarly: false, checkpoint: this.checkpointPath };
    } finally {
      progress.stop();
      process.off('SIGINT', handlers.SIGINT);
      process.off('SIGTERM', handlers.SIGTERM);
    }
  }

  dispose(): void {
    this.lossSlots.dispose();
    this.optimizer.dispose();
    this.model.dispose();
  }
}
