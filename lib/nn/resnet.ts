// ResNet-18 with torchvision's layout, parameter names and initialisation. Two stems:
// 'imagenet' (conv 7×7/2 + max-pool 3×3/2, as torchvision) and 'cifar' (conv 3×3/1, no max-pool).
// BatchNorm + ReLU and residual add + ReLU run as fused BatchNorm epilogues.
import type { Generator } from '../random';
import type { Tensor } from '../tensor';
import { flatten } from '../ops/shape';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Layer, Linear, MaxPool2d, Sequential } from './layers';

export class BasicBlock extends Layer {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inPlanes: number, planes: number, stride: number, generator?: Generator) {
    super();
    const g = generator ? { generator } : {};
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 3, { stride, padding: 1, ...g }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { padding: 1, ...g }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.downsample =
      stride !== 1 || inPlanes !== planes
        ? this.registerModule('downsample', new Sequential(new Conv2d(inPlanes, planes, 1, { stride, ...g }), new BatchNorm2d(planes)))
        : null;
  }

  forward(x: Tensor): Tensor {
    const c1 = this.conv1.forward(x);
    const h = this.bn1.forward(c1, { relu: true });
    c1.dispose();
    const c2 = this.conv2.forward(h);
    h.dispose();
    const identity = this.downsample ? this.downsample.forward(x) : x;
    const out = this.bn2.forward(c2, { relu: true, residual: identity });
    c2.dispose();
    if (identity !== x) identity.dispose();
    return out;
  }
}

export interface ResNetOptions {
  /** Outputs of the final fully connected layer (ignored when `head` is given). Default 1000. */
  numClasses?: number;
  /** 'imagenet' (default): 7×7/2 conv + 3×3/2 max-pool; 'cifar': 3×3/1 conv, no max-pool. */
  stem?: 'imagenet' | 'cifar';
  /** Builds the module that replaces `fc`, given the 512 backbone features (e.g. an MLP projection head). */
  head?: (features: number) => Layer;
  /** Generator for the initial weights (default: the library's default generator). */
  generator?: Generator;
}

export class ResNet extends Layer {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly maxpool: MaxPool2d | null;
  readonly layers: Sequential[];
  readonly avgpool: AdaptiveAvgPool2d;
  readonly fc: Layer;
  readonly stem: 'imagenet' | 'cifar';
  /** Width of the backbone's output (before fc). */
  readonly features = 512;

  constructor(blocks: number[], options: ResNetOptions = {}) {
    super();
    const g = options.generator ? { generator: options.generator } : {};
    this.stem = options.stem ?? 'imagenet';
    this.conv1 = this.registerModule(
      'conv1',
      this.stem === 'cifar' ? new Conv2d(3, 64, 3, { padding: 1, ...g }) : new Conv2d(3, 64, 7, { stride: 2, padding: 3, ...g }),
    );
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(64));
    this.maxpool = this.stem === 'cifar' ? null : new MaxPool2d(3, 2, 1); // no parameters: not registered
    let inPlanes = 64;
    this.layers = [64, 128, 256, 512].map((planes, i) => {
      const stride = i === 0 ? 1 : 2;
      const layer = new Sequential(
        ...Array.from({ length: blocks[i]! }, (_, b) => {
          const block = new BasicBlock(inPlanes, planes, b === 0 ? stride : 1, options.generator);
          inPlanes = planes;
          return block;
        }),
      );
      return this.registerModule(`layer${i + 1}`, layer);
    });
    this.avgpool = new AdaptiveAvgPool2d(1);
    this.fc = this.registerModule('fc', options.head ? options.head(512) : new Linear(512, options.numClasses ?? 1000, g));
  }

  /** The 512-wide pooled features, before fc. */
  backbone(x: Tensor): Tensor {
    const c = this.conv1.forward(x);
    let h = this.bn1.forward(c, { relu: true });
    c.dispose();
    if (this.maxpool) {
      const pooled = this.maxpool.forward(h);
      h.dispose();
      h = pooled;
    }
    for (const layer of this.layers) {
      const next = layer.forward(h);
      h.dispose();
      h = next;
    }
    const pooled = this.avgpool.forward(h);
    h.dispose();
    const flat = flatten(pooled, 1);
    pooled.dispose();
    return flat;
  }

  forward(x: Tensor): Tensor {
    const f = this.backbone(x);
    const out = this.fc.forward(f);
    f.dispose();
    return out;
  }
}

/** ResNet-18 (BasicBlock ×[2, 2, 2, 2]) with its parameters packed into one flat buffer. */
export function resnet18(options: ResNetOptions = {}): ResNet {
  const model = new ResNet([2, 2, 2, 2], options);
  model.flatten();
  return model;
}
