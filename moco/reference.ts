// Float64 CPU reference of MoCo's ops, for the tests.

/** [N, 1 + K] logits: column 0 = q_i·k_i/τ, column 1 + j = q_i·queue_j/τ. */
export function refMocoLogits(q: ArrayLike<number>, k: ArrayLike<number>, queue: ArrayLike<number>, n: number, dim: number, tau: number): Float64Array {
  const kLen = queue.length / dim;
  const out = new Float64Array(n * (1 + kLen));
  for (let i = 0; i < n; i++) {
    let pos = 0;
    for (let d = 0; d < dim; d++) pos += q[i * dim + d]! * k[i * dim + d]!;
    out[i * (1 + kLen)] = pos / tau;
    for (let j = 0; j < kLen; j++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += q[i * dim + d]! * queue[j * dim + d]!;
      out[i * (1 + kLen) + 1 + j] = s / tau;
    }
  }
  return out;
}

/** dq from the logits' gradient g [N, 1 + K]. */
export function refMocoLogitsGrad(g: ArrayLike<number>, k: ArrayLike<number>, queue: ArrayLike<number>, n: number, dim: number, tau: number): Float64Array {
  const kLen = queue.length / dim;
  const dq = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) {
      let s = g[i * (1 + kLen)]! * k[i * dim + d]!;
      for (let j = 0; j < kLen; j++) s += g[i * (1 + kLen) + 1 + j]! * queue[j * dim + d]!;
      dq[i * dim + d] = s / tau;
    }
  }
  return dq;
}

export function refMomentumUpdate(key: Float64Array, query: ArrayLike<number>, m: number): void {
  for (let i = 0; i < key.length; i++) key[i] = m * key[i]! + (1 - m) * query[i]!;
}

export function refEnqueue(queue: Float64Array, keys: ArrayLike<number>, dim: number, ptr: number): number {
  const kLen = queue.length / dim;
  const n = keys.length / dim;
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) queue[((ptr + i) % kLen) * dim + d] = keys[i * dim + d]!;
  return (ptr + n) % kLen;
}
