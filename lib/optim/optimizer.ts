// Optimizer base: the parameters are grouped into segments — one segment over a model's whole
// flat buffer when the parameters are exactly a packed model's (one dispatch per step), else one
// segment per parameter. Each segment carries the optimizer state tensors in the same layout.
import { zeros } from '../ops/creation';
import { FlatParameters } from '../nn/flat';
import type { Parameter } from '../nn/parameter';
import { untrack } from '../state';
import type { Tensor } from '../tensor';

export interface Segment {
  param: Tensor;
  grad: Tensor;
  state: Tensor[];
}

export abstract class Optimizer {
  /** Learning rate used by the next step (schedules set it). */
  lr: number;
  /** Steps taken so far. */
  stepCount = 0;
  protected readonly segments: Segment[];
  private readonly flat: FlatParameters | null;

  constructor(
    readonly params: Parameter[],
    lr: number,
    stateCount: number,
  ) {
    if (params.length === 0) throw new Error(`${this.constructor.name}: no parameters to optimize`);
    if (!(lr >= 0)) throw new Error(`${this.constructor.name}: learning rate must be ≥ 0, got ${lr}`);
    this.lr = lr;
    this.flat = FlatParameters.of(params);
    const makeState = (shape: readonly number[]) =>
      Array.from({ length: stateCount }, () => {
        const t = zeros(shape, { ctx: params[0]!.ctx });
        untrack(t);
        return t;
      });
    this.segments = this.flat
      ? [{ param: this.flat.data, grad: this.flat.grad, state: makeState([this.flat.length]) }]
      : params.map((p) => ({ param: p, grad: p.grad!, state: makeState(p.shape) }));
  }

  /** Applies one update from the current gradients. */
  step(): void {
    if (!this.flat) {
      this.params.forEach((p, i) => {
        if (!p.grad) throw new Error(`${this.constructor.name}.step: parameter ${i} of shape [${p.shape}] has no gradient`);
        this.segments[i]!.grad = p.grad;
      });
    }
    this.stepCount++;
    for (const s of this.segments) this.update(s);
  }

  /** Resets the parameters' gradients (one clear for a packed model). */
  zeroGrad(): void {
    if (this.flat) this.flat.zeroGrad();
    else for (const p of this.params) p.zeroGrad();
  }

  protected abstract update(segment: Segment): void;

  /** The optimizer state tensors (for checkpoints), segment by segment. */
  stateTensors(): Tensor[] {
    return this.segments.flatMap((s) => s.state);
  }

  dispose(): void {
    for (const t of this.stateTensors()) t.dispose();
  }
}
