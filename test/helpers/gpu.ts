// Every GPU test file imports this: it creates the default context once per process. A machine
// without an adapter fails here with the set-up instructions; GPU tests never skip.
import { initNode, liveTensorCount } from '../../lib/node';

export const ctx = await initNode();

/** Seed of this run's random inputs: TEST_SEED when set (to reproduce a failure), else fresh. */
export const seed = Number(process.env.TEST_SEED ?? Date.now() % 1_000_000);

export const pathName = (subgroups: boolean) => (subgroups ? 'subgroup kernels' : 'kernels without subgroups');

/**
 * Runs fn with the subgroup kernels on or off and restores the setting. Asking for the subgroup
 * path where the adapter has no fixed subgroup size fails (the other path would run twice,
 * silently). With `checkLeaks`, fn must leave no tensor alive.
 */
export async function onPath<T>(subgroups: boolean, fn: () => Promise<T>, options: { checkLeaks?: boolean } = {}): Promise<T> {
  if (subgroups && ctx.hardwareSubgroupSize === null) {
    throw new Error('this adapter has no fixed subgroup size, so the subgroup kernels cannot be tested (lavapipe has 8)');
  }
  const saved = ctx.useSubgroups;
  ctx.useSubgroups = subgroups;
  const before = liveTensorCount();
  let result: T;
  try {
    result = await fn();
  } finally {
    ctx.useSubgroups = saved;
  }
  const leaked = liveTensorCount() - before;
  if (options.checkLeaks && leaked !== 0) throw new Error(`${pathName(subgroups)}: ${leaked} tensors left alive`);
  return result;
}

/** Runs fn on the subgroup path, then on the path without subgroups. */
export async function bothPaths(fn: (subgroups: boolean) => Promise<void>, options: { checkLeaks?: boolean } = {}): Promise<void> {
  for (const subgroups of [true, false]) await onPath(subgroups, () => fn(subgroups), options);
}
