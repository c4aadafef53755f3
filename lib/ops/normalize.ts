// PLACEHOLDER: replaced by the row-kernel work (kernels/normalize.ts).
import type { Tensor } from '../tensor';

export function l2Normalize(_x: Tensor, _eps = 1e-12): Tensor {
  throw new Error('l2Normalize: not implemented yet');
}
