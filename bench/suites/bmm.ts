// Batched products, B×(M×K · K×N): the 32×(128×64 · 64×128) target, a larger and a
// smaller per-batch size, a shared (broadcast, batch 1) right operand, and the target shape on
// the portable workgroup-tiled kernel (subgroups off). flops = 2·B·M·N·K per run.
// Compare with `npm run bench -- compare bmm`.
import { bmm, randn, type GpuContext } from '../../lib/index';
import { withoutSubgroups, type BenchCase, type Prepared, type TfModule } from '../harness';

interface Shape {
  B: number;
  M: number;
  K: number;
  N: number;
  /** Batch size of the right operand (1: broadcast). */
  bB?: number;
  tiled?: boolean;
  tfjs?: boolean;
}

function bmmCase(s: Shape): BenchCase {
  const bB = s.bB ?? s.B;
  const sa = [s.B, s.M, s.K];
  const sb = [bB, s.K, s.N];
  return {
    bench: `bmm${s.tiled ? ' (tiled, no subgroups)' : ''}`,
    shape: `${s.B}x(${s.M}x${s.K}·${bB === 1 ? '1x' : ''}${s.K}x${s.N})`,
    flops: 2 * s.B * s.M * s.N * s.K,
    ours(ctx: GpuContext): Prepared {
      const a = randn(sa, { ctx });
      const b = randn(sb, { ctx });
      const run = () => (s.tiled ? withoutSubgroups(ctx, () => bmm(a, b)) : bmm(a, b));
      return { run, dispose: () => (a.dispose(), b.dispose()) };
    },
    ...(s.tfjs === false
      ? {}
      : {
          tfjs(tf: TfModule): Prepared {
            const a = tf.randomNormal(sa);
            const b = tf.randomNormal(sb);
            return { run: () => tf.matMul(a, b), dispose: () => (a.dispose(), b.dispose()) };
          },
        }),
  };
}

export function cases({ quick }: { quick: boolean }): BenchCase[] {
  const shapes: Shape[] = [
    { B: 32, M: 128, K: 64, N: 128 },
    { B: 8, M: 256, K: 256, N: 256 },
    { B: 128, M: 32, K: 32, N: 32 },
    { B: 32, M: 128, K: 64, N: 128, bB: 1 },
    { B: 32, M: 128, K: 64, N: 128, tiled: true, tfjs: false },
  ];
  return (quick ? shapes.slice(0, 1) : shapes).map(bmmCase);
}
