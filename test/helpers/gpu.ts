// Every GPU test file imports this: it creates the default context once per process. A machine
// without an adapter fails here with the set-up instructions; GPU tests never skip.
import { initNode } from '../../lib/node';

export const ctx = await initNode();

/** Seed of this run's random inputs: TEST_SEED when set (to reproduce a failure), else fresh. */
export const seed = Number(process.env.TEST_SEED ?? Date.now() % 1_000_000);
