// Weight initialisers with PyTorch's / torchvision's conventions, drawn from a seeded Generator.
import { fromArray, full, zeros } from '../ops/creation';
import { defaultGenerator, type Generator } from '../random';
import type { Tensor } from '../tensor';

function fans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return { fanIn: (shape[1] ?? 1) * receptive, fanOut: shape[0]! * receptive };
}

function draw(shape: readonly number[], f: () => number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = f();
  return fromArray(data, shape);
}

/** torch.nn.init.kaiming_normal_(mode='fan_out', nonlinearity='relu'): N(0, 2/fan_out), as torchvision's ResNet. */
export function kaimingNormalFanOut(shape: readonly number[], g: Generator = defaultGenerator): Tensor {
  const std = Math.sqrt(2 / fans(shape).fanOut);
  return draw(shape, () => std * g.normal());
}

/** U(−1/√fan_in, 1/√fan_in): PyTorch's default for Linear and Conv weights (kaiming_uniform, a = √5) and biases. */
export function uniformFanIn(shape: readonly number[], fanIn: number, g: Generator = defaultGenerator): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return draw(shape, () => g.uniformRange(-bound, bound));
}

export function fanIn(shape: readonly number[]): number {
  return fans(shape).fanIn;
}

export { zeros, full };
