// Parameter: a trainable leaf tensor owned by a Module. It lives outside scopes (a scope never
// frees it). Once its model is packed (FlatParameters), its data and its gradient are views into
// the model's flat buffers, and gradients are accumulated in place into that view.
import { copyInPlace, addScaledInPlace, zeroInPlace } from '../ops/inplace';
import { untrack } from '../state';
import { Tensor } from '../tensor';

export class Parameter extends Tensor {
  private flatGrad: Tensor | null = null;
  private gradIsZero = true;

  /** Takes over the data of `t` (which is disposed). */
  static fromTensor(t: Tensor): Parameter {
    const p = new Parameter(t.storage, t.shape);
    t.storage.retain();
    t.dispose();
    return p;
  }

  private constructor(...args: ConstructorParameters<typeof Tensor>) {
    super(...args);
    this.requiresGrad = true;
    untrack(this);
  }

  /** @internal Makes `grad` a persistent view (FlatParameters does this when packing). */
  attachFlatGrad(view: Tensor): void {
    untrack(view);
    this.grad?.dispose();
    this.flatGrad = view;
    this.grad = view;
    this.gradIsZero = true;
  }

  /** @internal Marks the gradient as zero after the whole flat gradient was cleared. */
  markGradZero(): void {
    this.gradIsZero = true;
  }

  override accumulateGrad(g: Tensor): void {
    if (!this.flatGrad) return super.accumulateGrad(g);
    if (this.gradIsZero) copyInPlace(this.flatGrad, g);
    else addScaledInPlace(this.flatGrad, g, 1);
    this.gradIsZero = false;
    g.dispose();
  }

  override zeroGrad(): void {
    if (!this.flatGrad) return super.zeroGrad();
    if (!this.gradIsZero) zeroInPlace(this.flatGrad);
    this.gradIsZero = true;
  }

  override dispose(): void {
    this.flatGrad = null;
    super.dispose();
  }
}
