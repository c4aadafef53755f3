// wgtensor: a WebGPU tensor library with autograd. This entry is browser-clean: it imports no
// Node built-ins and not the `webgpu` package; give it a device with init() (or use initNode()
// from 'wgtensor/node').
export { Tensor, liveTensorCount } from './tensor';
export { Storage } from './storage';
export { zeros, ones, full, fromArray, fromBytes, empty, scalar, arange, rand, randn } from './ops/creation';
export { rangeOf as bufferRange } from './ops/util';
export type { CreateOptions, RandomOptions } from './ops/creation';
export { add, sub, mul, div, maximum, minimum, neg, exp, log, sqrt, rsqrt, abs, relu, pow } from './ops/elementwise';
export { sum, mean, max } from './ops/reduce';
export { reshape, flatten, permute, transpose, broadcastTo, slice, concat, gatherRows } from './ops/shape';
export { matmul, bmm } from './ops/matmul';
export type { MatmulOptions } from './ops/matmul';
export { softmax, logSoftmax, crossEntropy } from './ops/softmax';
export type { Labels } from './ops/softmax';
export { l2Normalize } from './ops/normalize';
export { backward, record, GradNode } from './autograd';
export type { BackwardRule } from './autograd';
export { noGrad, scope, isGradEnabled, getContext, setContext, hasContext } from './state';
export { memory } from './memory';
export type { MemoryInfo } from './memory';
export { init } from './init';
export type { InitOptions } from './init';
export { GpuContext } from './runtime/context';
/** When the library awaits the GPU: read by the Node entry's polling (lib/node-polling.ts). */
export { gpuWait, awaitGpu } from './runtime/waiting';
export type { BufferRange, ContextOptions, ContextStats, AdapterDescription } from './runtime/context';
export { requestContext, NO_ADAPTER_HELP } from './runtime/device';
export type { RequestOptions } from './runtime/device';
export { Generator, manualSeed, defaultGenerator } from './random';
export type { GeneratorState } from './random';
export type { KernelSpec, UniformField, Access } from '../kernels/spec';
export { addScaledInPlace, copyInPlace, mulInPlace, zeroInPlace } from './ops/inplace';
export * from './nn/index';
export * from './optim/index';
export { encodeSafetensors, decodeSafetensors } from './io/safetensors';
export type { SafetensorsEntry, DecodedSafetensors, DecodedTensor } from './io/safetensors';
export { saveSafetensors, loadSafetensors, withPrefix } from './io/checkpoint';
export { batchNorm2d } from './ops/batchnorm';
export type { BatchNormParams, BatchNormOptions as BatchNormOpOptions } from './ops/batchnorm';
export { maxPool2d, globalAvgPool2d } from './ops/pool';
export type { MaxPoolOptions, Size2 } from './ops/pool';
export { conv2d, conv2dAlgorithm, conv2dBackwardInput, conv2dBackwardWeight, conv2dBackwardBias, conv2dOutputShape, convCacheLimits } from './ops/conv';
export type { ConvAlgorithm } from './ops/conv';
export { winogradSettings } from './ops/conv-winograd';
export type { Conv2dOptions as Conv2dOpOptions } from './ops/conv';
