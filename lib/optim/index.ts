export { Optimizer } from './optimizer';
export type { Segment } from './optimizer';
export { SGD } from './sgd';
export type { SGDOptions } from './sgd';
export { Adam, AdamW } from './adam';
export type { AdamOptions } from './adam';
export { cosineSchedule, stepSchedule, linearWarmup } from './schedule';
export type { Schedule } from './schedule';
