// Central finite differences in float64: the reference every backward is checked against.

/**
 * Gradient of the scalar f at `inputs` by central differences: (f(x+h) - f(x-h)) / 2h for every
 * element of every input. f must not keep or change the arrays it is given.
 */
export function finiteDifferences(
  f: (inputs: Float64Array[]) => number,
  inputs: Float64Array[],
  h = 1e-5,
): Float64Array[] {
  return inputs.map((x) => {
    const grad = new Float64Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const keep = x[i]!;
      x[i] = keep + h;
      const up = f(inputs);
      x[i] = keep - h;
      const down = f(inputs);
      x[i] = keep;
      grad[i] = (up - down) / (2 * h);
    }
    return grad;
  });
}

/** Σ w·y: turns an op's output into a scalar whose gradient with respect to y is w. */
export function weightedSum(y: ArrayLike<number>, w: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += y[i]! * w[i]!;
  return s;
}
