// Training checkpoints: one safetensors file with both encoders (encoder_q.*, encoder_k.*, PyTorch
// state_dict names), the optimizer state, the queue, and in its metadata the pointer, the random
// generators' states, the position in training, the history, the configuration and a hash of the
// data. Written atomically; a truncated, damaged or foreign file is refused before anything is changed.
import { readFileSync } from 'node:fs';
import {
  decodeSafetensors,
  encodeSafetensors,
  fromArray,
  copyInPlace,
  withPrefix,
  writeFileAtomic,
  type DecodedSafetensors,
  type GeneratorState,
  type Optimizer,
  type SafetensorsEntry,
} from '../lib/node';
import type { MocoConfig } from './config';
import type { LoaderState } from './data/loader';
import type { MocoModel } from './model';

export const CHECKPOINT_FORMAT = 'wgtensor-moco-checkpoint/1';

export interface EpochRecord {
  epoch: number;
  loss: number;
  lr: number;
  seconds: number;
  knn?: number;
}

export interface TrainingState {
  /** Epochs completed; training continues with this epoch index. */
  epoch: number;
  /** Batches of `epoch` already trained (mid-epoch checkpoints). */
  batchInEpoch: number;
  globalStep: number;
  ptr: number;
  loader: LoaderState;
  rng: GeneratorState;
  optimizerSteps: number;
  /** Sum of the losses of the current epoch's steps so far (for the epoch mean). */
  epochLossSum: number;
  history: EpochRecord[];
  /** kNN accuracy of the encoder before training. */
  initialKnn: number | null;
  /** What the run trains on; a resume refuses another data set (absent in older checkpoints). */
  dataset?: { train: number; classes: string[] };
}

export interface CheckpointMeta {
  format: string;
  config: MocoConfig;
  state: TrainingState;
  savedAt: string;
  /** tensorsHash of every tensor in the file: a bit flipped in the data is refused on reading. */
  dataHash?: string;
}

/**
 * A 64-bit hash (two 32-bit multiply–xorshift lanes, hex) of named float32 tensors, by name order:
 * the names, shapes' element counts and every bit of the data. Not cryptographic; it catches a
 * damaged file (~0.1 s for a MoCo ResNet-18 checkpoint).
 */
export function tensorsHash(tensors: Iterable<readonly [string, Float32Array]>): string {
  let a = 0x811c9dc5;
  let b = 0x27d4eb2f;
  const mix = (w: number) => {
    a = Math.imul(a ^ w, 0x9e3779b1);
    a ^= a >>> 15;
    b = Math.imul(b ^ w, 0x85ebca77);
    b ^= b >>> 13;
  };
  for (const [name, data] of [...tensors].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    for (let i = 0; i < name.length; i++) mix(name.charCodeAt(i));
    mix(data.length);
    const words = new Uint32Array(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < words.length; i++) mix(words[i]!);
  }
  const hex = (x: number) => (x >>> 0).toString(16).padStart(8, '0');
  return hex(a) + hex(b);
}

/** A checkpoint was not written because a tensor in it holds NaN or ±Infinity (the file on disk is kept). */
export class NonFiniteStateError extends Error {}

/** Writes the checkpoint atomically; refuses (NonFiniteStateError) to replace it with non-finite values. */
export async function saveCheckpoint(path: string, model: MocoModel, optimizer: Optimizer, config: MocoConfig, state: TrainingState): Promise<void> {
  const entries: SafetensorsEntry[] = [];
  for (const [prefix, encoder] of [
    ['encoder_q.', model.encoderQ],
    ['encoder_k.', model.encoderK],
  ] as const) {
    for (const [name, t] of await encoder.stateDict()) entries.push({ name: prefix + name, shape: t.shape, data: t.data });
  }
  entries.push({ name: 'queue', shape: [...model.queue.shape], data: await model.queue.toArray() });
  const optimizerState = optimizer.stateTensors();
  for (let i = 0; i < optimizerState.length; i++) {
    const t = optimizerState[i]!;
    entries.push({ name: `optimizer.${i}`, shape: [...t.shape], data: await t.toArray() });
  }
  for (const e of entries) {
    const bad = e.data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new NonFiniteStateError(`${e.name}[${bad}] is ${e.data[bad]}`);
  }
  const dataHash = tensorsHash(entries.map((e) => [e.name, e.data] as const));
  const meta: CheckpointMeta = { format: CHECKPOINT_FORMAT, config, state, savedAt: new Date().toISOString(), dataHash };
  writeFileAtomic(path, encodeSafetensors(entries, { moco: JSON.stringify(meta) }));
}

export interface LoadedCheckpoint {
  meta: CheckpointMeta;
  file: DecodedSafetensors;
}

/** Reads and validates a checkpoint file (format and metadata); throws a clear error otherwise. */
export function readCheckpoint(path: string): LoadedCheckpoint {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new Error(`checkpoint ${path}: cannot read it (${(error as Error).message})`);
  }
  let file: DecodedSafetensors;
  try {
    file = decodeSafetensors(bytes);
  } catch (error) {
    throw new Error(`checkpoint ${path} is corrupt or truncated: ${(error as Error).message}`);
  }
  const raw = file.metadata?.moco;
  if (!raw) throw new Error(`checkpoint ${path}: not a MoCo training checkpoint (no "moco" metadata)`);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(raw) as CheckpointMeta;
  } catch {
    throw new Error(`checkpoint ${path}: its metadata is not valid JSON`);
  }
  if (meta.format !== CHECKPOINT_FORMAT) throw new Error(`checkpoint ${path}: format ${meta.format}, expected ${CHECKPOINT_FORMAT}`);
  // Checkpoints written before the hash existed have none; every one written since is checked.
  if (meta.dataHash !== undefined && tensorsHash([...file.tensors].map(([name, t]) => [name, t.data] as const)) !== meta.dataHash) {
    throw new Error(`checkpoint ${path} is corrupt: its tensor data does not match the hash it was saved with`);
  }
  return { meta, file };
}

/**
 * Puts a checkpoint's tensors into a model and optimizer built with the same configuration. Every
 * name and shape is checked first (loadStateDict refuses a mismatch before writing), then written.
 */
export function restoreCheckpoint(loaded: LoadedCheckpoint, model: MocoModel, optimizer: Optimizer): void {
  const t = loaded.file.tensors;
  const need = (name: string, shape: readonly number[]) => {
    const entry = t.get(name);
    if (!entry) throw new Error(`checkpoint: missing ${name}`);
    if (entry.shape.join() !== shape.join()) throw new Error(`checkpoint: ${name} has shape [${entry.shape}], expected [${shape}]`);
    return entry;
  };
  const queue = need('queue', model.queue.shape);
  const optimizerState = optimizer.stateTensors().map((s, i) => need(`optimizer.${i}`, s.shape));
  // Validates both encoders' names and shapes before writing either.
  const stateQ = withPrefix(t, 'encoder_q.');
  const stateK = withPrefix(t, 'encoder_k.');
  model.encoderQ.checkStateDict(stateQ);
  model.encoderK.checkStateDict(stateK);
  model.encoderQ.loadStateDict(stateQ);
  model.encoderK.loadStateDict(stateK);
  const write = (target: import('../lib/node').Tensor, data: Float32Array) => {
    const src = fromArray(data, target.shape, { ctx: target.ctx });
    copyInPlace(target, src);
    src.dispose();
  };
  write(model.queue, queue.data);
  optimizer.stateTensors().forEach((s, i) => write(s, optimizerState[i]!.data));
  model.ptr = loaded.meta.state.ptr;
  optimizer.stepCount = loaded.meta.state.optimizerSteps;
}
