// allclose with a report of the worst element; NaN or Inf where a finite value is expected fails.
import { seed } from './gpu';

export interface Tolerance {
  rtol: number;
  atol: number;
}

/** |actual - expected| <= atol + rtol·|expected| elementwise. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tolerance,
  label = 'values',
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${label}: length ${actual.length}, expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  let maxAbs = 0;
  let maxRel = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e)) throw new Error(`${label}: element ${i} of the reference is NaN (seed ${seed})`);
    if (Number.isNaN(a) || (!Number.isFinite(a) && a !== e)) {
      throw new Error(`${label}: element ${i} is ${a}, expected ${e} (seed ${seed})`);
    }
    const err = Math.abs(a - e);
    const excess = err - (tol.atol + tol.rtol * Math.abs(e));
    maxAbs = Math.max(maxAbs, err);
    if (e !== 0) maxRel = Math.max(maxRel, err / Math.abs(e));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = i;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${label}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} ` +
        `(max abs err ${maxAbs.toExponential(2)}, max rel err ${maxRel.toExponential(2)}, ` +
        `rtol ${tol.rtol}, atol ${tol.atol}, ${actual.length} elements, seed ${seed})`,
    );
  }
}

/** Runs fn and checks that it throws an error whose message matches every pattern; returns the error. */
export function assertThrows(fn: () => unknown, ...patterns: (string | RegExp)[]): Error {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  if (!(error instanceof Error)) throw new Error(`expected an error matching ${patterns.join(', ')}; nothing was thrown`);
  for (const p of patterns) {
    const ok = typeof p === 'string' ? error.message.includes(p) : p.test(error.message);
    if (!ok) throw new Error(`error message "${error.message}" does not match ${String(p)}`);
  }
  return error;
}

/** Awaits fn() and checks that it rejects (or throws) with an error matching every pattern; returns the error. */
export async function assertRejects(fn: () => Promise<unknown>, ...patterns: (string | RegExp)[]): Promise<Error> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  if (!(error instanceof Error)) throw new Error(`expected a rejection matching ${patterns.join(', ')}; none came`);
  for (const p of patterns) {
    const ok = typeof p === 'string' ? error.message.includes(p) : p.test(error.message);
    if (!ok) throw new Error(`error message "${error.message}" does not match ${String(p)}`);
  }
  return error;
}
