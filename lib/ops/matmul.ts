// PLACEHOLDER: replaced by the matmul work (kernels/matmul.ts).
import type { Tensor } from '../tensor';

export interface MatmulOptions {
  /** Use the transpose of the first operand. */
  transA?: boolean;
  /** Use the transpose of the second operand. */
  transB?: boolean;
}

export function matmul(_a: Tensor, _b: Tensor, _options: MatmulOptions = {}): Tensor {
  throw new Error('matmul: not implemented yet');
}

export function bmm(_a: Tensor, _b: Tensor, _options: MatmulOptions = {}): Tensor {
  throw new Error('bmm: not implemented yet');
}
