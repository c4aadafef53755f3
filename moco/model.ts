// The MoCo model (facebookresearch/moco builder.py semantics): a query encoder trained by the
// optimizer, a key encoder that follows it by momentum only, and a queue of K past keys.
//
// One step: q = normalize(f_q(x_q)); under no_grad, θ_k ← m·θ_k + (1 − m)·θ_q, then the key images
// go through f_k in a shuffled order (Shuffle-BN emulated on one device with ghost-batch BN groups)
// and the keys are put back in order; logits = [q·k | q·queueᵀ] / τ; loss = cross-entropy with
// label 0; backward; optimizer step; the keys are enqueued after the loss (they are not negatives
// of their own batch). With `symmetric`, both views act as query and as key and the two losses add.
import {
  BatchNorm2d,
  concat,
  gatherRows,
  Linear,
  noGrad,
  randn,
  ReLU,
  resnet18,
  Sequential,
  type Generator,
  type Layer,
  type Module,
  type ResNet,
  type Tensor,
} from '../lib/index';
import type { MocoConfig } from './config';
import { enqueue, momentumUpdate, mocoLogits } from './ops';

/** The projection head: 512 → hidden... → dim with ReLUs between (MoCo v2: 512 → 512 → 128). */
export function projectionHead(features: number, hidden: number[], dim: number, generator?: Generator): Layer {
  const g = generator ? { generator } : {};
  const widths = [features, ...hidden, dim];
  const layers: Layer[] = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    if (i > 0) layers.push(new ReLU());
    layers.push(new Linear(widths[i]!, widths[i + 1]!, g));
  }
  return layers.length === 1 ? layers[0]! : new Sequential(...layers);
}

export function buildEncoder(c: Pick<MocoConfig, 'stem' | 'headHidden' | 'dim'>, generator?: Generator): ResNet {
  return resnet18({
    stem: c.stem,
    head: (f) => projectionHead(f, c.headHidden, c.dim, generator),
    ...(generator ? { generator } : {}),
  });
}

function setBnGroups(module: Module, groups: number): void {
  if (module instanceof BatchNorm2d) module.groups = groups;
  for (const [, child] of module.namedChildren()) setBnGroups(child, groups);
}

/** Inverse of a permutation. */
export function inversePermutation(perm: ArrayLike<number>): Int32Array {
  const inv = new Int32Array(perm.length);
  for (let i = 0; i < perm.length; i++) inv[perm[i]!] = i;
  return inv;
}

export interface StepViews {
  /** Query images [N, 3, S, S] in batch order. */
  query: Tensor;
  /** Key images [N, 3, S, S] in the shuffled order `perm` (key image j shows batch image perm[j]). */
  keyShuffled: Tensor;
  perm: ArrayLike<number>;
}

export class MocoModel {
  readonly encoderQ: ResNet;
  readonly encoderK: ResNet;
  /** K × dim ring buffer of L2-normalised keys. */
  readonly queue: Tensor;
  ptr = 0;

  constructor(
    readonly config: MocoConfig,
    generator: Generator,
  ) {
    this.encoderQ = buildEncoder(config, generator);
    this.encoderK = buildEncoder(config, generator);
    this.encoderK.copyFrom(this.encoderQ);
    for (const encoder of [this.encoderQ, this.encoderK]) setBnGroups(encoder, config.bnSplits);
    this.queue = noGrad(() => {
      const r = randn([config.queueSize, config.dim], { generator });
      const q = r.l2Normalize();
      r.dispose();
      return q;
    });
  }

  train(): void {
    this.encoderQ.train();
    this.encoderK.train();
  }

  /** Keys [N, dim] of images given in the shuffled order `perm`, returned in batch order. */
  keys(keyShuffled: Tensor, perm: ArrayLike<number>): Tensor {
    return noGrad(() => {
      const out = this.encoderK.forward(keyShuffled);
      const shuffledKeys = out.l2Normalize();
      out.dispose();
      const keys = gatherRows(shuffledKeys, inversePermutation(perm));
      shuffledKeys.dispose();
      return keys;
    });
  }

  private queries(images: Tensor): Tensor {
    const out = this.encoderQ.forward(images);
    const q = out.l2Normalize();
    out.dispose();
    return q;
  }

  /** The InfoNCE loss of queries q against their keys k and the queue (label 0). */
  private contrast(q: Tensor, k: Tensor): Tensor {
    const logits = mocoLogits(q, k, this.queue, this.config.temperature);
    const loss = logits.crossEntropy(new Int32Array(q.shape[0]!));
    logits.dispose();
    return loss;
  }

  /**
   * Forward of one step: returns the loss (with its graph) and the keys to enqueue. Call inside a
   * scope; then backward, the optimizer step, and `enqueue(keys)`.
   */
  forward(a: StepViews, b?: StepViews): { loss: Tensor; keys: Tensor } {
    noGrad(() => momentumUpdate(this.encoderK.flatten(), this.encoderQ.flatten(), this.config.momentum));
    if (!this.config.symmetric) {
      const q = this.queries(a.query);
      const k = this.keys(a.keyShuffled, a.perm);
      return { loss: this.contrast(q, k), keys: k };
    }
    if (!b) throw new Error('MocoModel.forward: the symmetric loss needs the views of both crops');
    // View 1 and view 2 of each image: q1 pairs with k2 and q2 with k1.
    const q1 = this.queries(a.query);
    const q2 = this.queries(b.query);
    const k1 = this.keys(a.keyShuffled, a.perm);
    const k2 = this.keys(b.keyShuffled, b.perm);
    const l12 = this.contrast(q1, k2);
    const l21 = this.contrast(q2, k1);
    return { loss: l12.add(l21), keys: concat([k1, k2], 0) };
  }

  /** Writes keys into the queue after the loss used it (and after backward, which reads the queue). */
  enqueue(keys: Tensor): void {
    this.ptr = enqueue(this.queue, keys, this.ptr);
  }

  dispose(): void {
    this.encoderQ.dispose();
    this.encoderK.dispose();
    this.queue.dispose();
  }
}
