// The layers ResNet-18 and its heads are built from, with PyTorch's parameter names and defaults.
import { batchNorm2d } from '../ops/batchnorm';
import { conv2d } from '../ops/conv';
import { full, zeros } from '../ops/creation';
import { add, relu } from '../ops/elementwise';
import { matmul } from '../ops/matmul';
import { globalAvgPool2d, maxPool2d } from '../ops/pool';
import { flatten, reshape } from '../ops/shape';
import type { Generator } from '../random';
import type { Tensor } from '../tensor';
import { fanIn, kaimingNormalFanOut, uniformFanIn } from './init';
import { Module } from './module';
import type { Parameter } from './parameter';

/** A module whose forward takes one tensor and returns one. */
export abstract class Layer extends Module {
  abstract forward(x: Tensor): Tensor;
}

export interface Conv2dOptions {
  stride?: number;
  padding?: number;
  bias?: boolean;
  /** 'kaiming-fan-out' (torchvision ResNet, the default) or 'pytorch-default' (U(±1/√fan_in)). */
  init?: 'kaiming-fan-out' | 'pytorch-default';
  generator?: Generator;
}

export class Conv2d extends Layer {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly stride: number;
  readonly padding: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    options: Conv2dOptions = {},
  ) {
    super();
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    const shape = [outChannels, inChannels, kernelSize, kernelSize];
    const w =
      options.init === 'pytorch-default'
        ? uniformFanIn(shape, fanIn(shape), options.generator)
        : kaimingNormalFanOut(shape, options.generator);
    this.weight = this.registerParameter('weight', w);
    this.bias = options.bias ? this.registerParameter('bias', uniformFanIn([outChannels], fanIn(shape), options.generator)) : null;
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding });
  }
}

export interface BatchNormOptions {
  momentum?: number;
  eps?: number;
  /** Ghost-batch groups: statistics per sub-batch of N / groups samples (training only). */
  groups?: number;
}

export class BatchNorm2d extends Layer {
  readonly weight: Parameter;
  readonly bias: Parameter;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  momentum: number;
  eps: number;
  groups: number;

  constructor(readonly numFeatures: number, options: BatchNormOptions = {}) {
    super();
    this.momentum = options.momentum ?? 0.1;
    this.eps = options.eps ?? 1e-5;
    this.groups = options.groups ?? 1;
    this.weight = this.registerParameter('weight', full([numFeatures], 1));
    this.bias = this.registerParameter('bias', zeros([numFeatures]));
    this.runningMean = this.registerBuffer('running_mean', zeros([numFeatures]));
    this.runningVar = this.registerBuffer('running_var', full([numFeatures], 1));
  }

  /** y = bn(x), optionally + residual and through a ReLU, in one fused kernel. */
  forward(x: Tensor, fused: { relu?: boolean; residual?: Tensor } = {}): Tensor {
    return batchNorm2d(
      x,
      { weight: this.weight, bias: this.bias, runningMean: this.runningMean, runningVar: this.runningVar },
      {
        training: this.training,
        momentum: this.momentum,
        eps: this.eps,
        groups: this.training ? this.groups : 1,
        relu: fused.relu ?? false,
        ...(fused.residual ? { residual: fused.residual } : {}),
      },
    );
  }
}

export class Linear extends Layer {
  readonly weight: Parameter;
  readonly bias: Parameter | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: { bias?: boolean; generator?: Generator } = {},
  ) {
    super();
    this.weight = this.registerParameter('weight', uniformFanIn([outFeatures, inFeatures], inFeatures, options.generator));
    this.bias =
      options.bias === false ? null : this.registerParameter('bias', uniformFanIn([outFeatures], inFeatures, options.generator));
  }

  /** y = x·Wᵀ + b for x of shape [N, inFeatures]. */
  forward(x: Tensor): Tensor {
    const y = matmul(x, this.weight, { transB: true });
    if (!this.bias) return y;
    const out = add(y, this.bias);
    y.dispose();
    return out;
  }
}

export class ReLU extends Layer {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class MaxPool2d extends Layer {
  constructor(
    readonly kernelSize: number,
    readonly stride = kernelSize,
    readonly padding = 0,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, { kernel: this.kernelSize, stride: this.stride, padding: this.padding });
  }
}

/** AdaptiveAvgPool2d(1): the mean over each channel's H×W, giving [N, C, 1, 1]. */
export class AdaptiveAvgPool2d extends Layer {
  constructor(readonly outputSize = 1) {
    super();
    if (outputSize !== 1) throw new Error(`AdaptiveAvgPool2d: only output size 1 is supported, got ${outputSize}`);
  }

  forward(x: Tensor): Tensor {
    return globalAvgPool2d(x);
  }
}

export class Flatten extends Layer {
  constructor(readonly startAxis = 1) {
    super();
  }

  forward(x: Tensor): Tensor {
    return flatten(x, this.startAxis);
  }
}

export class Identity extends Layer {
  forward(x: Tensor): Tensor {
    return reshape(x, x.shape); // a new handle that still passes gradients through
  }
}

/** Runs its layers in order; children are named "0", "1", ... as in PyTorch. */
export class Sequential extends Layer {
  readonly layers: Layer[];

  constructor(...layers: Layer[]) {
    super();
    this.layers = layers;
    layers.forEach((layer, i) => this.registerModule(String(i), layer));
  }

  forward(x: Tensor): Tensor {
    let h = x;
    for (const layer of this.layers) {
      const next = layer.forward(h);
      if (h !== x) h.dispose();
      h = next;
    }
    return h === x ? reshape(x, x.shape) : h;
  }
}
