// Reverse-mode autograd in the shape of micrograd, lifted to tensors. Each differentiable op that
// sees an input requiring a gradient records a GradNode: its backward rule, the tensors that rule
// needs (saved as extra handles on their storage, so disposing the op's inputs or outputs is safe),
// and for each input where its gradient goes (the input's own node, or the input itself when it is
// a leaf). `backward()` sorts the nodes topologically without recursion, walks them in reverse,
// sums gradients per node, accumulates into the leaves' `.grad`, and frees each node's saved
// tensors as soon as its rule has run.
//
// Nodes are reference counted by the tensors that point at them and by their child nodes, so
// disposing the outputs of a forward pass that is never differentiated frees its graph too.
import { isGradEnabled, scope, untrack, withGrad } from './state';
import { fmt } from './ops/util';
import type { Tensor } from './tensor';

/** Computes the gradients of an op's inputs from the gradient of its output (null: no gradient). */
export type BackwardRule = (gradOutput: Tensor, saved: Tensor[]) => (Tensor | null)[];

interface Edge {
  node: GradNode | null;
  leaf: Tensor | null;
}

export class GradNode {
  private refs = 0;
  private spent = false;

  /** True once backward() has run through this node (its saved tensors are gone). */
  get isSpent(): boolean {
    return this.spent;
  }

  constructor(
    readonly name: string,
    readonly outputShape: readonly number[],
    readonly edges: (Edge | null)[],
    private readonly rule: BackwardRule,
    private saved: Tensor[],
  ) {
    for (const edge of edges) edge?.node?.retain();
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs > 0) return;
    this.freeSaved();
    for (const edge of this.edges) edge?.node?.release();
  }

  run(gradOutput: Tensor): (Tensor | null)[] {
    if (this.spent) {
      throw new Error(`backward: the graph through '${this.name}' was already freed by an earlier backward()`);
    }
    const grads = this.rule(gradOutput, this.saved);
    if (grads.length !== this.edges.length) {
      throw new Error(`backward of ${this.name}: rule returned ${grads.length} gradients for ${this.edges.length} inputs`);
    }
    // A saved tensor is freed after the rule runs: hand out its own handle instead.
    return grads.map((g) => (g && this.saved.includes(g) ? g.handle() : g));
  }

  freeSaved(): void {
    for (const t of this.saved) t.dispose();
    this.saved = [];
    this.spent = true;
  }
}

/**
 * Attaches a backward rule to `output` when gradients are on and an input needs one. `saved` are
 * tensors the rule reads; they get their own handles, so the caller may dispose the originals.
 */
export function record(name: string, output: Tensor, inputs: Tensor[], rule: BackwardRule, saved: Tensor[] = []): Tensor {
  if (!isGradEnabled() || !inputs.some((t) => t.requiresGrad)) return output;
  const edges = inputs.map((t): Edge | null => {
    if (!t.requiresGrad) return null;
    return t.gradNode ? { node: t.gradNode, leaf: null } : { node: null, leaf: t };
  });
  const handles = saved.map((t) => {
    const h = t.handle();
    untrack(h); // owned by the node, not by the enclosing scope
    return h;
  });
  const node = new GradNode(name, output.shape, edges, rule, handles);
  output.attachGradNode(node);
  return output;
}

function topologicalOrder(root: GradNode): GradNode[] {
  const order: GradNode[] = [];
  const visited = new Set<GradNode>();
  const stack: [GradNode, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [node, next] = top;
    if (next < node.edges.length) {
      top[1]++;
      const child = node.edges[next]?.node;
      if (child && !visited.has(child)) {
        visited.add(child);
        stack.push([child, 0]);
      }
    } else {
      order.push(node);
      stack.pop();
    }
  }
  return order.reverse(); // root first
}

function addGradients(a: Tensor, b: Tensor): Tensor {
  const sum = a.add(b);
  a.dispose();
  b.dispose();
  return sum;
}

/** Backpropagates from `root` (a scalar, or any shape with `gradient` of that shape). */
export function backward(root: Tensor, gradient?: Tensor): void {
  root.assertAlive('backward');
  if (!root.requiresGrad) {
    throw new Error(`backward: tensor of shape [${root.shape}] does not require grad (no input had requiresGrad)`);
  }
  if (gradient) {
    gradient.assertAlive('backward');
    if (gradient.shape.join() !== root.shape.join()) {
      throw new Error(`backward: gradient of shape ${fmt(gradient.shape)} given for a tensor of shape ${fmt(root.shape)}`);
    }
  } else if (root.size !== 1) {
    throw new Error(
      `backward: called on a tensor of shape ${fmt(root.shape)} without a gradient; pass a gradient of that shape or reduce to a scalar`,
    );
  }
  const rootNode = root.gradNode;
  if (rootNode?.isSpent) {
    throw new Error(`backward: the graph through '${rootNode.name}' was already freed by an earlier backward()`);
  }
  withGrad(false, () => {
    const seed = gradient ? gradient.handle() : root.onesLike();
    if (!rootNode) {
      root.accumulateGrad(seed);
      return;
    }
    const pending = new Map<GradNode, Tensor>([[rootNode, seed]]);
    try {
      propagate(rootNode, pending);
    } finally {
      for (const g of pending.values()) g.dispose();
    }
  });
}

/** Walks the graph from rootNode; `pending` holds the gradients not yet consumed (freed by the caller). */
function propagate(rootNode: GradNode, pending: Map<GradNode, Tensor>): void {
  for (const node of topologicalOrder(rootNode)) {
    const g = pending.get(node);
    if (!g) continue;
    pending.delete(node);
    let inputGrads: (Tensor | null)[];
    try {
      const returned = new Set<Tensor>();
      inputGrads = scope(() => node.run(g)).map((gi) => {
        // A rule may pass `g` (or one tensor) on to several inputs: give each its own handle.
        if (!gi) return null;
        const own = gi === g || returned.has(gi) ? gi.handle() : gi;
        returned.add(gi);
        return own;
      });
    } finally {
      g.dispose();
      node.freeSaved();
    }
    node.edges.forEach((edge, i) => {
      const gi = inputGrads[i];
      if (!gi) return;
      if (!edge) {
        gi.dispose();
        return;
      }
      if (edge.leaf) {
        edge.leaf.accumulateGrad(gi);
        return;
      }
      const existing = pending.get(edge.node!);
      pending.set(edge.node!, existing ? addGradients(existing, gi) : gi);
    });
  }
}
