// Learning-rate schedules as pure functions of the step (or epoch) index, starting at 0.

export type Schedule = (step: number) => number;

/**
 * Cosine annealing from baseLr to minLr over `total` steps (or epochs), after an optional linear
 * warm-up of `warmup` steps from 0. With warmup 0 this is MoCo's lr·0.5·(1 + cos(π·t/T)).
 */
export function cosineSchedule(baseLr: number, total: number, options: { warmup?: number; minLr?: number } = {}): Schedule {
  const warmup = options.warmup ?? 0;
  const minLr = options.minLr ?? 0;
  if (!(total > 0)) throw new Error(`cosineSchedule: total must be > 0, got ${total}`);
  return (t) => {
    if (t < warmup) return (baseLr * (t + 1)) / warmup;
    const progress = Math.min(1, (t - warmup) / Math.max(1, total - warmup));
    return minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  };
}

/** lr · gamma^(number of milestones ≤ t) (torch MultiStepLR; MoCo's linear eval: [60, 80], 0.1). */
export function stepSchedule(baseLr: number, milestones: number[], gamma = 0.1): Schedule {
  return (t) => baseLr * gamma ** milestones.filter((m) => t >= m).length;
}

/** Linear warm-up to baseLr over `warmup` steps, then constant. */
export function linearWarmup(baseLr: number, warmup: number): Schedule {
  return (t) => (t < warmup ? (baseLr * (t + 1)) / warmup : baseLr);
}
