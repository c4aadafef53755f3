// The symmetric MoCo loss (--symmetric): both crops serve as query and key, the loss is
// CE(q1, k2) + CE(q2, k1) over [q·k | q·queueᵀ]/τ with label 0, and the keys to enqueue are [k1; k2].
// Checked in float64 against the model's own queries and keys, with ghost-batch BN (2 splits) and
// non-trivial key shuffles.
import { test } from 'uvu';
import { gatherRows, Generator, noGrad, randn, type Tensor } from '../lib/index';
import { refCrossEntropy, refL2Normalize } from '../lib/cpu/index';
import { resolveConfig } from '../moco/config';
import { MocoModel } from '../moco/model';
import { refMocoLogits } from '../moco/reference';
import { assertClose } from './helpers/assert';
import { seed } from './helpers/gpu';

/** The float64 InfoNCE loss of queries q (normalised here) against keys k and the queue: CE over [q·k | q·queueᵀ]/τ, label 0. */
function infoNce(qRaw: Float32Array, k: ArrayLike<number>, queue: ArrayLike<number>, n: number, dim: number, tau: number): number {
  const q = refL2Normalize({ data: Float64Array.from(qRaw), shape: [n, dim] }).data;
  const logits = refMocoLogits(q, k, queue, n, dim, tau);
  return refCrossEntropy({ data: logits, shape: [n, logits.length / n] }, new Array<number>(n).fill(0)).data[0]!;
}

test('symmetric loss = CE(q1, k2) + CE(q2, k1) in float64; the keys to enqueue are [k1; k2]', async () => {
  const n = 4;
  const { config } = resolveConfig(
    { data: '/x', imageSize: 32, stem: 'imagenet', batchSize: n, bnSplits: 2, queueSize: 16, symmetric: true, headHidden: [16], dim: 8, temperature: 0.2 },
    { trainSize: 100, numClasses: 2 },
  );
  const model = new MocoModel(config, new Generator(seed));
  const g = new Generator(seed + 1);
  const made: Tensor[] = [];
  const keep = <T extends Tensor>(t: T) => (made.push(t), t);
  try {
    const v1 = keep(randn([n, 3, 32, 32], { generator: g }));
    const v2 = keep(randn([n, 3, 32, 32], { generator: g }));
    const p1 = g.permutation(n);
    const p2 = g.permutation(n);
    const a = { query: v1, keyShuffled: keep(gatherRows(v1, p1)), perm: p1 };
    const b = { query: v2, keyShuffled: keep(gatherRows(v2, p2)), perm: p2 };
    const { loss, keys } = model.forward(a, b);
    keep(loss);
    keep(keys);
    const got = (await loss.toArray())[0]!;
    const gotKeys = await keys.toArray();
    // The same queries and keys again (forward did the momentum update; keys() does none).
    const q1 = await keep(noGrad(() => model.encoderQ.forward(v1))).toArray();
    const q2 = await keep(noGrad(() => model.encoderQ.forward(v2))).toArray();
    const k1 = await keep(model.keys(a.keyShuffled, p1)).toArray();
    const k2 = await keep(model.keys(b.keyShuffled, p2)).toArray();
    const queue = await model.queue.toArray();
    const d = config.dim;
    const expected = infoNce(q1, k2, queue, n, d, config.temperature) + infoNce(q2, k1, queue, n, d, config.temperature);
    assertClose([got], [expected], { rtol: 1e-5, atol: 1e-5 }, 'symmetric loss');
    assertClose(gotKeys, [...k1, ...k2], { rtol: 0, atol: 1e-6 }, 'keys to enqueue');
  } finally {
    made.forEach((t) => t.dispose());
    model.dispose();
  }
});

test.run();
