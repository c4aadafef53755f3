// CPU reference of the optimizer updates (PyTorch's formulas, float64), in place on arrays.

export function refSgdStep(
  p: Float64Array,
  g: Float64Array,
  buf: Float64Array,
  o: { lr: number; momentum: number; dampening: number; weightDecay: number; nesterov: boolean; first: boolean },
): void {
  for (let i = 0; i < p.length; i++) {
    let d = g[i]! + o.weightDecay * p[i]!;
    if (o.momentum !== 0) {
      buf[i] = o.first ? d : o.momentum * buf[i]! + (1 - o.dampening) * d;
      d = o.nesterov ? d + o.momentum * buf[i]! : buf[i]!;
    }
    p[i]! -= o.lr * d;
  }
}

export function refAdamStep(
  p: Float64Array,
  g: Float64Array,
  m: Float64Array,
  v: Float64Array,
  o: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean; step: number },
): void {
  const bc1 = 1 - o.beta1 ** o.step;
  const bc2 = 1 - o.beta2 ** o.step;
  for (let i = 0; i < p.length; i++) {
    let x = p[i]!;
    let d = g[i]!;
    if (o.decoupled) x *= 1 - o.lr * o.weightDecay;
    else d += o.weightDecay * x;
    m[i] = o.beta1 * m[i]! + (1 - o.beta1) * d;
    v[i] = o.beta2 * v[i]! + (1 - o.beta2) * d * d;
    p[i] = x - (o.lr / bc1) * (m[i]! / (Math.sqrt(v[i]!) / Math.sqrt(bc2) + o.eps));
  }
}
