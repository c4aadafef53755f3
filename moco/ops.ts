// MoCo's own GPU ops, each one dedicated kernel (kernels/moco-*.ts): the logits [l_pos | l_neg] / τ
// with their gradient to q, the momentum update of the key encoder, and the queue enqueue.
import { enqueueKernel } from '../kernels/moco-enqueue';
import { positiveLogitsKernel, queueLogitsKernel } from '../kernels/moco-logits';
import { queueGradPartialKernel, queueGradReduceKernel } from '../kernels/moco-logits-grad';
import { momentumUpdateKernel } from '../kernels/moco-momentum';
import { bufferRange, empty, record, type FlatParameters, type Tensor } from '../lib/index';

// Kernel specs are built once (their WGSL strings are constant).
const kernels = {
  positive: positiveLogitsKernel(),
  queue: queueLogitsKernel(),
  gradPartial: queueGradPartialKernel(),
  gradReduce: queueGradReduceKernel(),
  momentum: momentumUpdateKernel(),
  enqueue: enqueueKernel(),
};

function shape(t: Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

/**
 * logits = [q·k | q·queueᵀ] / τ, shape [N, 1 + K]: column 0 holds each query's positive, the rest
 * its negatives. The gradient flows to q only. The queue is read again by backward, so it must not
 * be changed (enqueue) until backward has run.
 */
export function mocoLogits(q: Tensor, k: Tensor, queue: Tensor, tau: number): Tensor {
  for (const t of [q, k, queue]) t.assertAlive('mocoLogits');
  if (q.rank !== 2 || k.shape.join() !== q.shape.join() || queue.rank !== 2 || queue.shape[1] !== q.shape[1]) {
    throw new Error(`mocoLogits: expected q [N, dim], k [N, dim], queue [K, dim]; got ${shape(q)}, ${shape(k)}, ${shape(queue)}`);
  }
  if (!(tau > 0)) throw new Error(`mocoLogits: temperature must be > 0, got ${tau}`);
  const [n, dim] = q.shape as [number, number];
  const kLen = queue.shape[0]!;
  const ctx = q.ctx;
  const uniforms = { n, k: kLen, dim, invTau: 1 / tau };
  const logits = empty([n, 1 + kLen], { ctx });
  ctx.run(kernels.positive, [bufferRange(q), bufferRange(k), bufferRange(logits)], uniforms);
  ctx.run(kernels.queue, [bufferRange(q), bufferRange(queue), bufferRange(logits)], uniforms);
  return record(
    'mocoLogits',
    logits,
    [q],
    (g, [sk, sq]) => {
      const splits = Math.max(1, Math.min(64, Math.ceil(kLen / 1024)));
      const chunk = Math.ceil(kLen / splits);
      const u = { n, k: kLen, dim, splits, chunk, invTau: 1 / tau };
      const partial = empty([splits, n, dim], { ctx });
      ctx.run(kernels.gradPartial, [bufferRange(g), bufferRange(sq!), bufferRange(partial)], u);
      const dq = empty([n, dim], { ctx });
      ctx.run(kernels.gradReduce, [bufferRange(partial), bufferRange(g), bufferRange(sk!), bufferRange(dq)], u);
      return [dq];
    },
    [k, queue],
  );
}

/** θ_k ← m·θ_k + (1 − m)·θ_q over two flat parameter buffers of the same layout (one dispatch). */
export function momentumUpdate(key: FlatParameters, query: FlatParameters, m: number): void {
  if (!key.sameLayout(query)) throw new Error('momentumUpdate: the key and query encoders are packed differently');
  if (!(m >= 0 && m <= 1)) throw new Error(`momentumUpdate: momentum must be in [0, 1], got ${m}`);
  const ctx = key.data.ctx;
  ctx.run(kernels.momentum, [bufferRange(key.data), bufferRange(query.data)], { n4: Math.ceil(key.length / 4), m });
}

/** Writes keys [N, dim] into rows [ptr, ptr + N) of queue [K, dim]; returns the next pointer. */
export function enqueue(queue: Tensor, keys: Tensor, ptr: number): number {
  queue.assertAlive('enqueue');
  keys.assertAlive('enqueue');
  const [kLen, dim] = queue.shape as [number, number];
  const n = keys.shape[0]!;
  if (keys.rank !== 2 || keys.shape[1] !== dim) throw new Error(`enqueue: keys ${shape(keys)} do not fit queue ${shape(queue)}`);
  if (kLen % n !== 0) throw new Error(`enqueue: the queue length ${kLen} is not a multiple of the batch size ${n}`);
  if (!Number.isInteger(ptr) || ptr < 0 || ptr >= kLen) throw new Error(`enqueue: pointer ${ptr} outside [0, ${kLen})`);
  queue.ctx.run(kernels.enqueue, [bufferRange(keys), bufferRange(queue)], { n, k: kLen, dim, ptr });
  return (ptr + n) % kLen;
}
