// The float64 CPU reference of every op, used by the tests (and usable by anyone checking a kernel).
export * from './array';
export * from './elementwise';
export * from './reduce';
export * from './shape';
export * from './grad';
export * from './matmul';
export * from './softmax';
export * from './normalize';
export * from './conv';
export * from './batchnorm';
export * from './pool';
export * from './optim';
