// Tensor: a float32, row-major, contiguous array on the GPU (NCHW by convention for images).
// A tensor is a handle on a reference-counted Storage; reshape and detach make new handles on the
// same storage, every other op writes a new one. Tensors are freed by `dispose()` or by the
// enclosing `scope()`, never by the garbage collector. Ops live in lib/ops/; the methods here are
// thin forwards so that `a.add(b).relu()` reads naturally.
import { backward, type GradNode } from './autograd';
import * as creation from './ops/creation';
import * as ew from './ops/elementwise';
import * as matmulOps from './ops/matmul';
import * as normalize from './ops/normalize';
import * as reduce from './ops/reduce';
import * as shapeOps from './ops/shape';
import * as softmaxOps from './ops/softmax';
import type { GpuContext } from './runtime/context';
import { track, untrack } from './state';
import { Storage } from './storage';

let liveTensors = 0;
let nextId = 1;

/** Number of tensors created and not yet disposed. */
export function liveTensorCount(): number {
  return liveTensors;
}

export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Throws unless every size is a non-negative integer. */
export function checkShape(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${op}: invalid shape [${shape}]: sizes must be non-negative integers`);
  }
}

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly size: number;
  /** Whether gradients flow to this tensor; set it on leaves you want `.grad` for. */
  requiresGrad = false;
  /** Accumulated gradient of a leaf after backward(); cleared by zeroGrad(). */
  grad: Tensor | null = null;
  private storageRef: Storage | null;
  private node: GradNode | null = null;

  /** @internal Use the creation functions (zeros, fromArray, ...) instead. */
  constructor(storage: Storage, shape: readonly number[]) {
    this.storageRef = storage;
    this.shape = Object.freeze([...shape]);
    this.size = shapeSize(shape);
    liveTensors++;
    track(this);
  }

  get rank(): number {
    return this.shape.length;
  }

  get disposed(): boolean {
    return this.storageRef === null;
  }

  get ctx(): GpuContext {
    return this.storage.ctx;
  }

  /** The storage, for ops; throws when the tensor was disposed. */
  get storage(): Storage {
    if (!this.storageRef) throw new Error(`tensor #${this.id} of shape [${this.shape.join(', ')}] was used after dispose()`);
    return this.storageRef;
  }

  get gradNode(): GradNode | null {
    return this.node;
  }

  /** Throws an error naming `op` when this tensor was disposed. */
  assertAlive(op: string): void {
    if (!this.storageRef) throw new Error(`${op}: tensor of shape [${this.shape.join(', ')}] was used after dispose()`);
  }

  /** Frees this handle (and its storage when no other handle uses it). Safe to call twice. */
  dispose(): void {
    if (!this.storageRef) return;
    this.storageRef.release();
    this.storageRef = null;
    this.node?.release();
    this.node = null;
    this.grad?.dispose();
    this.grad = null;
    liveTensors--;
    untrack(this);
  }

  /** A new handle on the same storage, with no gradient history. */
  handle(shape: readonly number[] = this.shape): Tensor {
    const storage = this.storage;
    storage.retain();
    return new Tensor(storage, shape);
  }

  /** @internal Called by autograd.record on an op's output. */
  attachGradNode(node: GradNode): void {
    if (this.node) throw new Error('attachGradNode: tensor already has a grad node');
    this.node = node;
    node.retain();
    this.requiresGrad = true;
  }

  /** Adds `g` (owned by this call) to `.grad`. Parameters with a flat gradient buffer override it. */
  accumulateGrad(g: Tensor): void {
    untrack(g);
    if (!this.grad) {
      this.grad = g;
      return;
    }
    const sum = this.grad.add(g);
    untrack(sum);
    this.grad.dispose();
    g.dispose();
    this.grad = sum;
  }

  /** @internal Points this handle at another storage of the same size (used to pack parameters). */
  rebindStorage(storage: Storage): void {
    const old = this.storage;
    this.storageRef = storage;
    old.release();
  }

  /** Drops the accumulated gradient. */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  /** Backpropagates from this tensor (a scalar, or pass a gradient of the same shape). */
  backward(gradient?: Tensor): void {
    backward(this, gradient);
  }

  /** A handle on the same data that does not require grad and has no history. */
  detach(): Tensor {
    this.assertAlive('detach');
    return this.handle();
  }

  /** Copies the data to the CPU. */
  async toArray(): Promise<Float32Array> {
    this.assertAlive('toArray');
    const range = this.storage.range;
    const bytes = await this.ctx.read({ buffer: range.buffer, offset: range.offset, size: Math.max(4, this.size * 4) });
    return new Float32Array(bytes, 0, this.size);
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    this.assertAlive('item');
    if (this.size !== 1) throw new Error(`item: tensor of shape [${this.shape.join(', ')}] has ${this.size} elements, expected 1`);
    return (await this.toArray())[0]!;
  }

  toString(): string {
    return `Tensor([${this.shape}]${this.requiresGrad ? ', requiresGrad' : ''}${this.disposed ? ', disposed' : ''})`;
  }

  // ---- creation helpers bound to this tensor's context
  onesLike(): Tensor {
    this.assertAlive('onesLike');
    return creation.full(this.shape, 1, { ctx: this.ctx });
  }
  zerosLike(): Tensor {
    this.assertAlive('zerosLike');
    return creation.zeros(this.shape, { ctx: this.ctx });
  }

  // ---- shape
  reshape(shape: readonly number[]): Tensor {
    return shapeOps.reshape(this, shape);
  }
  flatten(startAxis = 0): Tensor {
    return shapeOps.flatten(this, startAxis);
  }
  permute(axes: readonly number[]): Tensor {
    return shapeOps.permute(this, axes);
  }
  transpose(axis0 = -2, axis1 = -1): Tensor {
    return shapeOps.transpose(this, axis0, axis1);
  }
  slice(axis: number, start: number, end: number): Tensor {
    return shapeOps.slice(this, axis, start, end);
  }
  broadcastTo(shape: readonly number[]): Tensor {
    return shapeOps.broadcastTo(this, shape);
  }

  // ---- elementwise
  add(other: Tensor | number): Tensor {
    return ew.add(this, other);
  }
  sub(other: Tensor | number): Tensor {
    return ew.sub(this, other);
  }
  mul(other: Tensor | number): Tensor {
    return ew.mul(this, other);
  }
  div(other: Tensor | number): Tensor {
    return ew.div(this, other);
  }
  maximum(other: Tensor | number): Tensor {
    return ew.maximum(this, other);
  }
  minimum(other: Tensor | number): Tensor {
    return ew.minimum(this, other);
  }
  pow(exponent: number): Tensor {
    return ew.pow(this, exponent);
  }
  neg(): Tensor {
    return ew.neg(this);
  }
  exp(): Tensor {
    return ew.exp(this);
  }
  log(): Tensor {
    return ew.log(this);
  }
  sqrt(): Tensor {
    return ew.sqrt(this);
  }
  rsqrt(): Tensor {
    return ew.rsqrt(this);
  }
  abs(): Tensor {
    return ew.abs(this);
  }
  relu(): Tensor {
    return ew.relu(this);
  }

  // ---- reductions
  sum(axes?: number | readonly number[], keepdim = false): Tensor {
    return reduce.sum(this, axes, keepdim);
  }
  mean(axes?: number | readonly number[], keepdim = false): Tensor {
    return reduce.mean(this, axes, keepdim);
  }
  max(axes?: number | readonly number[], keepdim = false): Tensor {
    return reduce.max(this, axes, keepdim);
  }

  // ---- linear algebra and losses
  matmul(other: Tensor, options?: matmulOps.MatmulOptions): Tensor {
    return matmulOps.matmul(this, other, options);
  }
  bmm(other: Tensor, options?: matmulOps.MatmulOptions): Tensor {
    return matmulOps.bmm(this, other, options);
  }
  softmax(): Tensor {
    return softmaxOps.softmax(this);
  }
  logSoftmax(): Tensor {
    return softmaxOps.logSoftmax(this);
  }
  crossEntropy(labels: softmaxOps.Labels): Tensor {
    return softmaxOps.crossEntropy(this, labels);
  }
  l2Normalize(eps?: number): Tensor {
    return normalize.l2Normalize(this, eps);
  }
}

/** @internal A new tensor over a fresh pooled storage of `shape` (contents undefined). */
export function emptyTensor(ctx: GpuContext, shape: readonly number[]): Tensor {
  return new Tensor(Storage.alloc(ctx, shapeSize(shape)), shape);
}
