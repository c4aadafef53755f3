// FlatParameters: packs a list of parameters into one flat GPU buffer (and their gradients into
// another), each parameter a view at a 64-float (256-byte) aligned offset, with zeros in between.
// An optimizer step, a gradient reset, a copy between two models or an EMA over all parameters is
// then one dispatch instead of one per tensor.
import { zeros } from '../ops/creation';
import { zeroInPlace } from '../ops/inplace';
import { untrack } from '../state';
import { Tensor } from '../tensor';
import type { Parameter } from './parameter';

const ALIGN = 64;

const owners = new WeakMap<Parameter, FlatParameters>();

export class FlatParameters {
  /** All parameters' data: a 1-D tensor of `length` floats. */
  readonly data: Tensor;
  /** All parameters' gradients, same layout as `data`. */
  readonly grad: Tensor;
  readonly offsets: number[];
  readonly length: number;

  private constructor(readonly params: Parameter[]) {
    this.offsets = [];
    let total = 0;
    for (const p of params) {
      this.offsets.push(total);
      total += Math.ceil(Math.max(p.size, 1) / ALIGN) * ALIGN;
    }
    this.length = total;
    const ctx = params[0]!.ctx;
    this.data = zeros([total], { ctx });
    this.grad = zeros([total], { ctx });
    untrack(this.data);
    untrack(this.grad);
    params.forEach((p, i) => {
      const offset = this.offsets[i]!;
      const view = this.data.storage.view(offset, p.size);
      const src = p.storage.range;
      const bytes = p.size * 4;
      if (bytes > 0) ctx.copy({ buffer: src.buffer, offset: src.offset, size: bytes }, { ...view.range, size: bytes });
      p.rebindStorage(view);
      p.attachFlatGrad(new Tensor(this.grad.storage.view(offset, p.size), p.shape));
      owners.set(p, this);
    });
  }

  /** Packs `params` (all on one context, none packed yet). */
  static pack(params: Parameter[]): FlatParameters {
    if (params.length === 0) throw new Error('FlatParameters.pack: no parameters');
    const packed = params.find((p) => owners.has(p));
    if (packed) throw new Error(`FlatParameters.pack: a parameter of shape [${packed.shape}] is already packed`);
    return new FlatParameters(params);
  }

  /** The FlatParameters holding exactly `params` in this order, or null. */
  static of(params: readonly Parameter[]): FlatParameters | null {
    const flat = params.length ? owners.get(params[0]!) : undefined;
    if (!flat || flat.params.length !== params.length) return null;
    return flat.params.every((p, i) => p === params[i]) ? flat : null;
  }

  /** Sets every gradient to zero (one clear). */
  zeroGrad(): void {
    zeroInPlace(this.grad);
    for (const p of this.params) p.markGradZero();
  }

  /** True when `other` packs parameters of the same shapes in the same order. */
  sameLayout(other: FlatParameters): boolean {
    return (
      this.length === other.length &&
      this.params.length === other.params.length &&
      this.params.every((p, i) => p.shape.join() === other.params[i]!.shape.join())
    );
  }

  dispose(): void {
    for (const p of this.params) owners.delete(p);
    this.data.dispose();
    this.grad.dispose();
  }
}
