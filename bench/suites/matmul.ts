// Matrix products, M×K×N (op(A) is M×K, op(B) is K×N): the issue's 1024³ target, a size that is
// no tile multiple, a tall-skinny and a deep-K shape, the transposed operands that backward uses,
// MoCo's l_neg = q·queueᵀ, and 1024³ on the portable workgroup-tiled kernel (subgroups off).
// flops = 2·M·N·K per run. Compare with `npm run bench -- compare matmul`.
import { matmul, randn, type GpuContext, type MatmulOptions } from '../../lib/index';
import { withoutSubgroups, type BenchCase, type Prepared, type TfModule } from '../harness';

interface Shape {
  M: number;
  K: number;
  N: number;
  transA?: boolean;
  transB?: boolean;
  /** Run ours without subgroups (the workgroup-tiled kernel). */
  tiled?: boolean;
  label?: string;
  tfjs?: boolean;
}

function stored({ M, K, N, transA, transB }: Shape): [number[], number[]] {
  return [transA ? [K, M] : [M, K], transB ? [N, K] : [K, N]];
}

function matmulCase(s: Shape): BenchCase {
  const [sa, sb] = stored(s);
  const options: MatmulOptions = { transA: !!s.transA, transB: !!s.transB };
  const flags = `${s.transA ? ' transA' : ''}${s.transB ? ' transB' : ''}`;
  return {
    bench: `matmul${s.tiled ? ' (tiled, no subgroups)' : ''}${s.label ? ` ${s.label}` : ''}`,
    shape: `${s.M}x${s.K}x${s.N}${flags}`,
    flops: 2 * s.M * s.N * s.K,
    ours(ctx: GpuContext): Prepared {
      const a = randn(sa, { ctx });
      const b = randn(sb, { ctx });
      const run = () => (s.tiled ? withoutSubgroups(ctx, () => matmul(a, b, options)) : matmul(a, b, options));
      return { run, dispose: () => (a.dispose(), b.dispose()) };
    },
    ...(s.tfjs === false
      ? {}
      : {
          tfjs(tf: TfModule): Prepared {
            const a = tf.randomNormal(sa);
            const b = tf.randomNormal(sb);
            return { run: () => tf.matMul(a, b, !!s.transA, !!s.transB), dispose: () => (a.dispose(), b.dispose()) };
          },
        }),
  };
}

export function cases({ quick }: { quick: boolean }): BenchCase[] {
  const shapes: Shape[] = [
    { M: 1024, K: 1024, N: 1024 },
    { M: 1000, K: 1000, N: 1000 },
    { M: 4096, K: 64, N: 4096 },
    { M: 64, K: 4096, N: 64 },
    { M: 1024, K: 1024, N: 1024, transA: true },
    { M: 1024, K: 1024, N: 1024, transB: true },
    { M: 256, K: 128, N: 65536, transB: true, label: 'moco l_neg' },
    { M: 1024, K: 1024, N: 1024, tiled: true, tfjs: false },
  ];
  return (quick ? shapes.slice(0, 1) : shapes).map(matmulCase);
}
