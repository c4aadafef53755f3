// One ResNet-18 training step (forward, cross-entropy, backward, SGD with momentum 0.9 and weight
// decay 1e-4) at batch 32, for the cifar stem at 32×32 and the imagenet stem at 64×64.
import { randn, resnet18, scope, SGD, Generator, type GpuContext } from '../../lib/index';
import type { BenchCase, TfModule } from '../harness';
import { tfjsResnet18Step } from '../tfjs-resnet';

/** The prepared step (also what `npm run profile -- resnet18-step` times). */
export function resnetStep(ctx: GpuContext, stem: 'cifar' | 'imagenet', batch: number, size: number) {
  const g = new Generator(0);
  const model = resnet18({ numClasses: 10, stem, generator: g });
  const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
  const x = randn([batch, 3, size, size], { generator: g, ctx });
  const labels = Array.from({ length: batch }, (_, i) => i % 10);
  return {
    run: () =>
      scope(() => {
        opt.zeroGrad();
        model.forward(x).crossEntropy(labels).backward();
        opt.step();
      }),
    dispose: () => {
      x.dispose();
      opt.dispose();
      model.dispose();
    },
  };
}

export function cases(options: { quick: boolean }): BenchCase[] {
  const configs: ['cifar' | 'imagenet', number, number][] = options.quick ? [['cifar', 8, 32]] : [['cifar', 32, 32], ['imagenet', 32, 64]];
  return configs.map(([stem, batch, size]) => ({
    bench: 'resnet18-step',
    shape: `${stem} ${batch}x3x${size}x${size}`,
    images: batch,
    ours: (ctx: GpuContext) => resnetStep(ctx, stem, batch, size),
    tfjs: (tf: TfModule) => tfjsResnet18Step(tf, stem, batch, size),
    torch: `resnet18-step:${stem}:${batch}:${size}`,
  }));
}
