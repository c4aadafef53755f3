// Tensor constructors: constants, data from the CPU, ranges and seeded random values.
// Random values are drawn on the CPU from a seeded Generator and uploaded, so a seed gives the
// same numbers on every device and in the CPU reference.
import { fillKernel } from '../../kernels/elementwise';
import { defaultGenerator, type Generator } from '../random';
import type { GpuContext } from '../runtime/context';
import { getContext } from '../state';
import { checkShape, emptyTensor, shapeSize, type Tensor } from '../tensor';
import { memoKernel, rangeOf, vec4Count } from './util';

export interface CreateOptions {
  /** The GPU context to allocate on (default: the one set by init). */
  ctx?: GpuContext;
  requiresGrad?: boolean;
}

export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

const fill = memoKernel(fillKernel);

function make(op: string, shape: readonly number[], options: CreateOptions): Tensor {
  checkShape(op, shape);
  const ctx = options.ctx ?? getContext();
  ctx.throwIfFailed();
  const t = emptyTensor(ctx, shape);
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

function upload(t: Tensor, data: Float32Array): void {
  const range = rangeOf(t);
  t.ctx.upload({ buffer: range.buffer, offset: range.offset, size: data.byteLength }, data);
}

export function zeros(shape: readonly number[], options: CreateOptions = {}): Tensor {
  const t = make('zeros', shape, options);
  t.ctx.clear(rangeOf(t));
  return t;
}

export function full(shape: readonly number[], value: number, options: CreateOptions = {}): Tensor {
  if (typeof value !== 'number') throw new Error(`full: value must be a number, got ${typeof value}`);
  const t = make('full', shape, options);
  if (value === 0) t.ctx.clear(rangeOf(t));
  else t.ctx.run(fill(), [rangeOf(t)], { n4: vec4Count(t), alpha: value });
  return t;
}

export function ones(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return full(shape, 1, options);
}

/** A tensor holding `data` (any array of numbers) with `shape` (default: 1-D). */
export function fromArray(data: ArrayLike<number>, shape?: readonly number[], options: CreateOptions = {}): Tensor {
  if (!data || typeof data.length !== 'number') throw new Error('fromArray: data must be an array or typed array of numbers');
  const s = shape ?? [data.length];
  checkShape('fromArray', s);
  if (shapeSize(s) !== data.length) {
    throw new Error(`fromArray: data has ${data.length} values but shape [${s.join(', ')}] needs ${shapeSize(s)}`);
  }
  const t = make('fromArray', s, options);
  if (t.size > 0) upload(t, data instanceof Float32Array ? data : Float32Array.from(data));
  return t;
}

/** A scalar (shape []) tensor. */
export function scalar(value: number, options: CreateOptions = {}): Tensor {
  return fromArray([value], [], options);
}

/** Values start, start+step, ... below end (like torch.arange). */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new Error(`arange: step must be a finite non-zero number, got ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return fromArray(data, [n], options);
}

/** Uniform values in [low, high). */
export function rand(shape: readonly number[], options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  checkShape('rand', shape);
  const g = options.generator ?? defaultGenerator;
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  const data = new Float32Array(shapeSize(shape));
  for (let i = 0; i < data.length; i++) data[i] = g.uniformRange(low, high);
  return fromArray(data, shape, options);
}

/** Normal values with the given mean and standard deviation. */
export function randn(shape: readonly number[], options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  checkShape('randn', shape);
  const g = options.generator ?? defaultGenerator;
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  const data = new Float32Array(shapeSize(shape));
  for (let i = 0; i < data.length; i++) data[i] = mean + std * g.normal();
  return fromArray(data, shape, options);
}

/** A tensor with undefined contents (for kernels that write every element). */
export function empty(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return make('empty', shape, options);
}

/**
 * A 1-D tensor whose storage holds `data`'s raw bytes (e.g. packed uint8 pixels or u32 indices for a
 * custom kernel), padded with zeros to whole 4-byte words. Its float values are meaningless.
 */
export function fromBytes(data: ArrayBufferView, options: CreateOptions = {}): Tensor {
  const words = Math.ceil(data.byteLength / 4);
  const t = make('fromBytes', [words], options);
  if (words === 0) return t;
  const bytes = new Uint8Array(words * 4);
  bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  const range = rangeOf(t);
  t.ctx.upload({ buffer: range.buffer, offset: range.offset, size: bytes.byteLength }, bytes);
  return t;
}
