// torch.optim.Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay).
import { adamKernel } from '../../kernels/optim';
import type { Parameter } from '../nn/parameter';
import { memoKernel, rangeOf, vec4Count } from '../ops/util';
import { Optimizer, type Segment } from './optimizer';

const adamK = memoKernel(adamKernel);

export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

export class Adam extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  protected readonly decoupled: boolean = false;

  constructor(params: Parameter[], options: AdamOptions = {}) {
    super(params, options.lr ?? 1e-3, 2);
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
  }

  protected update(s: Segment): void {
    const [b1, b2] = this.betas;
    const t = this.stepCount;
    s.param.ctx.run(adamK({ decoupled: this.decoupled }), [rangeOf(s.param), rangeOf(s.grad), rangeOf(s.state[0]!), rangeOf(s.state[1]!)], {
      n4: vec4Count(s.param),
      lr: this.lr,
      beta1: b1,
      beta2: b2,
      eps: this.eps,
      weightDecay: this.weightDecay,
      biasCorrection1: 1 - b1 ** t,
      biasCorrection2Sqrt: Math.sqrt(1 - b2 ** t),
    });
  }
}

export class AdamW extends Adam {
  protected override readonly decoupled = true;

  constructor(params: Parameter[], options: AdamOptions = {}) {
    super(params, { weightDecay: 1e-2, ...options });
  }
}
