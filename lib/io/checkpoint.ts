// Model checkpoints as safetensors (float32, PyTorch state_dict names, BatchNorm running stats
// included), as bytes: browser-clean. Node programs write them with writeFileAtomic (lib/node.ts).
import type { Module, StateDict } from '../nn/module';
import { decodeSafetensors, encodeSafetensors, type SafetensorsEntry } from './safetensors';

/** Reads the model's parameters and buffers back and encodes them as a safetensors file. */
export async function saveSafetensors(model: Module, metadata?: Record<string, string>): Promise<Uint8Array> {
  const state = await model.stateDict();
  const entries: SafetensorsEntry[] = [...state].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  return encodeSafetensors(entries, metadata);
}

/** PyTorch's BatchNorm counter: a scalar, int64 as `torch.save`/`save_file` write it (any of these dtypes accepted). */
const isBatchCounter = (name: string, dtype: string, shape: readonly number[]) =>
  name.endsWith('num_batches_tracked') && (dtype === 'I64' || dtype === 'I32' || dtype === 'F32') && shape.length <= 1 && (shape[0] ?? 1) === 1;

/**
 * Loads a safetensors file into the model. The file is fully validated (format, then every name and
 * shape against the model) before any weight changes; a truncated, corrupt or mismatching file is
 * refused with an error that says what is wrong. `num_batches_tracked` entries (PyTorch's BatchNorm
 * counters, int64 in a state_dict PyTorch saves; this library does not keep them) are checked and
 * ignored; any other tensor must be F32. Returns the file's metadata.
 */
export function loadSafetensors(model: Module, bytes: Uint8Array | ArrayBuffer, options: { strict?: boolean } = {}): Record<string, string> | null {
  let decoded;
  try {
    decoded = decodeSafetensors(bytes, { skip: isBatchCounter });
  } catch (error) {
    throw new Error(`loadSafetensors: ${(error as Error).message}`);
  }
  const state: StateDict = new Map();
  for (const [name, t] of decoded.tensors) if (!isBatchCounter(name, 'F32', t.shape)) state.set(name, t);
  model.loadStateDict(state, options);
  return decoded.metadata;
}

/** Splits a state dict by name prefix ("encoder_q." → a state dict without the prefix). */
export function withPrefix(state: StateDict, prefix: string): StateDict {
  const out: StateDict = new Map();
  for (const [name, t] of state) if (name.startsWith(prefix)) out.set(name.slice(prefix.length), t);
  return out;
}
