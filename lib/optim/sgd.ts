// torch.optim.SGD: momentum, dampening, weight decay (L2, added to the gradient), Nesterov.
import { sgdKernel } from '../../kernels/optim';
import type { Parameter } from '../nn/parameter';
import { memoKernel, rangeOf, vec4Count } from '../ops/util';
import { Optimizer, type Segment } from './optimizer';

const sgdK = memoKernel(sgdKernel);

export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;

  constructor(params: Parameter[], options: SGDOptions) {
    super(params, options.lr, options.momentum ? 1 : 0);
    this.momentum = options.momentum ?? 0;
    this.dampening = options.dampening ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    this.nesterov = options.nesterov ?? false;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error('SGD: Nesterov momentum needs momentum > 0 and dampening 0');
    }
  }

  protected update(s: Segment): void {
    const useMomentum = this.momentum !== 0;
    const buffers = [rangeOf(s.param), rangeOf(s.grad), ...(useMomentum ? [rangeOf(s.state[0]!)] : [])];
    s.param.ctx.run(sgdK({ momentum: useMomentum, nesterov: this.nesterov }), buffers, {
      n4: vec4Count(s.param),
      first: this.stepCount === 1 ? 1 : 0,
      lr: this.lr,
      momentum: this.momentum,
      dampening: this.dampening,
      weightDecay: this.weightDecay,
    });
  }
}
