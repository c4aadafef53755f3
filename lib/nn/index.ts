export { Module } from './module';
export type { NamedArray, StateDict } from './module';
export { Parameter } from './parameter';
export { FlatParameters } from './flat';
export { Layer, Conv2d, BatchNorm2d, Linear, ReLU, MaxPool2d, AdaptiveAvgPool2d, Flatten, Identity, Sequential } from './layers';
export type { Conv2dOptions, BatchNormOptions } from './layers';
export { BasicBlock, ResNet, resnet18 } from './resnet';
export type { ResNetOptions } from './resnet';
export { kaimingNormalFanOut, uniformFanIn } from './init';
