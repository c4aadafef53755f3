// PLACEHOLDER: replaced by the softmax work (kernels/softmax.ts).
import type { Tensor } from '../tensor';

/** Integer class labels: a tensor of class indices, or an array of them. */
export type Labels = Tensor | Int32Array | readonly number[];

export function softmax(_x: Tensor): Tensor {
  throw new Error('softmax: not implemented yet');
}
export function logSoftmax(_x: Tensor): Tensor {
  throw new Error('logSoftmax: not implemented yet');
}
export function crossEntropy(_logits: Tensor, _labels: Labels): Tensor {
  throw new Error('crossEntropy: not implemented yet');
}
