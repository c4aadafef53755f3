// PLACEHOLDER: this benchmark suite is being written.
import type { BenchCase } from '../harness';
export function cases(): BenchCase[] {
  throw new Error('not written yet');
}
