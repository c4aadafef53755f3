// In-place updates of existing tensors, outside autograd: what optimizers, gradient accumulation
// and EMA updates need. They refuse tensors that require grad inside a recorded graph only through
// their documentation: call them on parameters and buffers, not on intermediate results.
import { axpyKernel } from '../../kernels/elementwise';
import type { Tensor } from '../tensor';
import { mapBinaryInPlace } from './elementwise';
import { checkInputs, fmt, memoKernel, rangeOf, vec4Count } from './util';

const axpy = memoKernel(axpyKernel);

function sameSize(op: string, target: Tensor, source: Tensor): void {
  if (target.size !== source.size) {
    throw new Error(`${op}: source ${fmt(source.shape)} does not match target ${fmt(target.shape)}`);
  }
  if (target.storage === source.storage) throw new Error(`${op}: source and target share storage`);
}

/** target += alpha · source. */
export function addScaledInPlace(target: Tensor, source: Tensor, alpha = 1): void {
  const ctx = checkInputs('addScaledInPlace', target, source);
  sameSize('addScaledInPlace', target, source);
  ctx.run(axpy(), [rangeOf(target), rangeOf(source)], { n4: vec4Count(target), alpha });
}

/** target ← source (same number of elements). */
export function copyInPlace(target: Tensor, source: Tensor): void {
  const ctx = checkInputs('copyInPlace', target, source);
  sameSize('copyInPlace', target, source);
  const t = rangeOf(target);
  const s = rangeOf(source);
  const bytes = Math.ceil((target.size * 4) / 4) * 4;
  ctx.copy({ buffer: s.buffer, offset: s.offset, size: bytes }, { buffer: t.buffer, offset: t.offset, size: bytes });
}

/** target ← target · source elementwise (source of the same size, or one element). */
export function mulInPlace(target: Tensor, source: Tensor): void {
  mapBinaryInPlace('mul', target, source);
}

/** Sets every element of target to zero. */
export function zeroInPlace(target: Tensor): void {
  const ctx = checkInputs('zeroInPlace', target);
  ctx.clear(rangeOf(target));
}
