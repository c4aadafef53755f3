// ResNet-18 written with TensorFlow.js core ops (NHWC, batch-statistics BatchNorm, SGD with
// momentum), so its training step can be timed against ours on the same adapter.
import type { TfModule } from './harness';

/* eslint-disable @typescript-eslint/no-explicit-any */
type T = any;

export function tfjsResnet18Step(tf: TfModule, stem: 'cifar' | 'imagenet', batch: number, size: number) {
  const vars: T[] = [];
  const variable = (shape: number[], std: number) => {
    const v = tf.variable(tf.randomNormal(shape, 0, std));
    vars.push(v);
    return v;
  };
  const conv = (cin: number, cout: number, k: number) => variable([k, k, cin, cout], Math.sqrt(2 / (k * k * cout)));
  const bn = (c: number) => ({ scale: tf.variable(tf.ones([c])), offset: tf.variable(tf.zeros([c])) });
  const bnApply = (x: T, p: { scale: T; offset: T }) => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.batchNorm(x, mean, variance, p.offset, p.scale, 1e-5);
  };
  const stemConv = stem === 'cifar' ? conv(3, 64, 3) : conv(3, 64, 7);
  const stemBn = bn(64);
  const blocks: { c1: T; b1: any; c2: T; b2: any; down: { c: T; b: any } | null; stride: number }[] = [];
  let inPlanes = 64;
  for (const [i, planes] of [64, 128, 256, 512].entries()) {
    for (let b = 0; b < 2; b++) {
      const stride = i > 0 && b === 0 ? 2 : 1;
      blocks.push({
        c1: conv(inPlanes, planes, 3),
        b1: bn(planes),
        c2: conv(planes, planes, 3),
        b2: bn(planes),
        down: stride !== 1 || inPlanes !== planes ? { c: conv(inPlanes, planes, 1), b: bn(planes) } : null,
        stride,
      });
      inPlanes = planes;
    }
  }
  for (const p of [stemBn, ...blocks.flatMap((b) => [b.b1, b.b2, ...(b.down ? [b.down.b] : [])])]) vars.push(p.scale, p.offset);
  const fcW = variable([512, 10], Math.sqrt(1 / 512));
  const fcB = tf.variable(tf.zeros([10]));
  vars.push(fcB);

  const forward = (x: T) => {
    let h = tf.relu(bnApply(tf.conv2d(x, stemConv, stem === 'cifar' ? 1 : 2, 'same'), stemBn));
    if (stem === 'imagenet') h = tf.maxPool(h, 3, 2, 'same');
    for (const b of blocks) {
      const o = tf.relu(bnApply(tf.conv2d(h, b.c1, b.stride, 'same'), b.b1));
      const o2 = bnApply(tf.conv2d(o, b.c2, 1, 'same'), b.b2);
      const id = b.down ? bnApply(tf.conv2d(h, b.down.c, b.stride, 'valid'), b.down.b) : h;
      h = tf.relu(tf.add(o2, id));
    }
    const pooled = tf.mean(h, [1, 2]);
    return tf.add(tf.matMul(pooled, fcW), fcB);
  };

  const x = tf.randomNormal([batch, size, size, 3]);
  const labels = tf.oneHot(tf.randomUniform([batch], 0, 10, 'int32'), 10);
  const optimizer = tf.train.momentum(0.1, 0.9);
  return {
    run: () => optimizer.minimize(() => tf.losses.softmaxCrossEntropy(labels, forward(x)), true, vars),
    dispose: () => {
      tf.dispose([x, labels, ...vars]);
      optimizer.dispose();
    },
  };
}
