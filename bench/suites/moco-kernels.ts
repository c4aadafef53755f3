// MoCo's dedicated kernels alone: the logits [l_pos | l_neg]/τ at N 256, K 65,536, dim 128 (forward,
// and the gradient to q), the momentum update over ResNet-18's 11.2 M parameters in GB/s next to a
// copy of the same bytes (the vec4 copy shader and copyBufferToBuffer), and the enqueue.
import { unaryKernel } from '../../kernels/elementwise';
import { Generator, randn, resnet18, scope, zeros, type GpuContext } from '../../lib/index';
import { enqueue, momentumUpdate, mocoLogits } from '../../moco/ops';
import type { BenchCase } from '../harness';

export function cases(options: { quick: boolean }): BenchCase[] {
  const n = options.quick ? 32 : 256;
  const k = options.quick ? 4096 : 65536;
  const dim = 128;
  const logitsFlops = 2 * n * (k + 1) * dim;
  return [
    {
      bench: 'moco.logits',
      shape: `N${n} K${k} dim${dim}`,
      flops: logitsFlops,
      ours: (ctx: GpuContext) => {
        const g = new Generator(1);
        const q = randn([n, dim], { generator: g, ctx });
        const keys = randn([n, dim], { generator: g, ctx });
        const queue = randn([k, dim], { generator: g, ctx });
        return { run: () => scope(() => void mocoLogits(q, keys, queue, 0.2)), dispose: () => [q, keys, queue].forEach((t) => t.dispose()) };
      },
    },
    {
      bench: 'moco.logits fwd+grad',
      shape: `N${n} K${k} dim${dim}`,
      flops: 2 * logitsFlops,
      ours: (ctx: GpuContext) => {
        const g = new Generator(2);
        const q = randn([n, dim], { generator: g, ctx, requiresGrad: true });
        const keys = randn([n, dim], { generator: g, ctx });
        const queue = randn([k, dim], { generator: g, ctx });
        return {
          run: () =>
            scope(() => {
              mocoLogits(q, keys, queue, 0.2).sum().backward();
              q.zeroGrad();
            }),
          dispose: () => [q, keys, queue].forEach((t) => t.dispose()),
        };
      },
    },
    ...(['momentum update', 'copy kernel', 'copyBufferToBuffer'] as const).map(
      (what): BenchCase => {
        // Sized from a real ResNet-18 (with MoCo's 512→512→128 head the count is 11.5 M).
        const probe = resnet18({ numClasses: 128 });
        const floats = probe.flatten().length;
        probe.dispose();
        return {
          bench: what === 'momentum update' ? 'moco.momentumUpdate' : `reference: ${what}`,
          shape: `${(floats / 1e6).toFixed(2)}M params`,
          // momentum: read key + query, write key; copy: read + write.
          bytes: (what === 'momentum update' ? 3 : 2) * floats * 4,
          ours: (ctx: GpuContext) => {
            const key = resnet18({ numClasses: 128, generator: new Generator(3) });
            const query = resnet18({ numClasses: 128, generator: new Generator(4) });
            const kf = key.flatten();
            const qf = query.flatten();
            const copy = unaryKernel('copy');
            const run =
              what === 'momentum update'
                ? () => momentumUpdate(kf, qf, 0.99)
                : what === 'copy kernel'
                  ? () => ctx.run(copy, [qf.data.storage.range, kf.data.storage.range], { n4: Math.ceil(floats / 4), alpha: 0 })
                  : () => ctx.copy(qf.data.storage.range, kf.data.storage.range);
            return { run, dispose: () => [key, query].forEach((m) => m.dispose()) };
          },
        };
      },
    ),
    {
      bench: 'moco.enqueue',
      shape: `N${n} K${k} dim${dim}`,
      bytes: 2 * n * dim * 4,
      ours: (ctx: GpuContext) => {
        const queue = zeros([k, dim], { ctx });
        const keys = randn([n, dim], { ctx });
        let ptr = 0;
        return { run: () => void (ptr = enqueue(queue, keys, ptr)), dispose: () => [queue, keys].forEach((t) => t.dispose()) };
      },
    },
  ];
}
