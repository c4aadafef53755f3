// Module: the PyTorch-style building block. It owns named parameters, named buffers (non-trained
// state such as BatchNorm's running statistics) and named child modules, so that names follow
// PyTorch's state_dict ("layer1.0.conv1.weight", "bn1.running_mean").
import { fromArray } from '../ops/creation';
import { copyInPlace } from '../ops/inplace';
import { fmt } from '../ops/util';
import { untrack } from '../state';
import type { Tensor } from '../tensor';
import { FlatParameters } from './flat';
import { Parameter } from './parameter';

/** A named array of floats with its shape: what checkpoints store. */
export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

export type StateDict = Map<string, NamedArray>;

export abstract class Module {
  training = true;
  private readonly params = new Map<string, Parameter>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();
  private flat: FlatParameters | null = null;

  protected registerParameter(name: string, value: Tensor): Parameter {
    const p = value instanceof Parameter ? value : Parameter.fromTensor(value);
    this.params.set(name, p);
    return p;
  }

  protected registerBuffer(name: string, value: Tensor): Tensor {
    untrack(value);
    this.buffers.set(name, value);
    return value;
  }

  protected registerModule<M extends Module>(name: string, module: M): M {
    this.children.set(name, module);
    return module;
  }

  /** Child modules with their names. */
  namedChildren(): [string, Module][] {
    return [...this.children];
  }

  /** Sets training mode here and in every child (BatchNorm uses batch statistics in training). */
  train(mode = true): this {
    this.training = mode;
    for (const child of this.children.values()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Parameters in state_dict order, with dotted names. */
  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [...this.params].map(([n, p]) => [prefix + n, p]);
    for (const [name, child] of this.children) out.push(...child.namedParameters(`${prefix}${name}.`));
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.buffers].map(([n, b]) => [prefix + n, b]);
    for (const [name, child] of this.children) out.push(...child.namedBuffers(`${prefix}${name}.`));
    return out;
  }

  /** Parameters and buffers in PyTorch's state_dict order (per module: parameters, buffers, children). */
  namedState(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [
      ...[...this.params].map(([n, p]): [string, Tensor] => [prefix + n, p]),
      ...[...this.buffers].map(([n, b]): [string, Tensor] => [prefix + n, b]),
    ];
    for (const [name, child] of this.children) out.push(...child.namedState(`${prefix}${name}.`));
    return out;
  }

  /** Packs every parameter into one flat buffer (see FlatParameters). Idempotent. */
  flatten(): FlatParameters {
    this.flat ??= FlatParameters.pack(this.parameters());
    return this.flat;
  }

  /** The flat parameter buffer when flatten() was called, else null. */
  get flatParameters(): FlatParameters | null {
    return this.flat;
  }

  /** Resets every parameter's gradient (one clear when the model is flat). */
  zeroGrad(): void {
    if (this.flat) this.flat.zeroGrad();
    else for (const p of this.parameters()) p.zeroGrad();
  }

  /** Reads all parameters and buffers back to the CPU. */
  async stateDict(): Promise<StateDict> {
    const out: StateDict = new Map();
    for (const [name, t] of this.namedState()) out.set(name, { shape: [...t.shape], data: await t.toArray() });
    return out;
  }

  /** Throws, listing every problem, unless `state` has the names and shapes loadStateDict needs. */
  checkStateDict(state: StateDict, options: { strict?: boolean } = {}): void {
    const strict = options.strict ?? true;
    const own = new Map(this.namedState());
    const problems: string[] = [];
    for (const [name, t] of own) {
      const entry = state.get(name);
      if (!entry) {
        if (strict) problems.push(`missing ${name} ${fmt(t.shape)}`);
        continue;
      }
      if (entry.shape.join() !== t.shape.join()) problems.push(`${name}: file has ${fmt(entry.shape)}, model has ${fmt(t.shape)}`);
      else if (entry.data.length !== t.size) problems.push(`${name}: ${entry.data.length} values for ${fmt(t.shape)}`);
    }
    if (strict) for (const name of state.keys()) if (!own.has(name)) problems.push(`unexpected ${name}`);
    if (problems.length) {
      throw new Error(`loadStateDict: the state does not match the model; nothing was loaded:\n  ${problems.join('\n  ')}`);
    }
  }

  /**
   * Loads parameters and buffers. Every name and shape is checked before anything is written, so a
   * mismatching state dict leaves the model untouched. With strict = false, missing and unexpected
   * names are allowed (matching names must still have matching shapes).
   */
  loadStateDict(state: StateDict, options: { strict?: boolean } = {}): void {
    this.checkStateDict(state, options);
    for (const [name, t] of this.namedState()) {
      const entry = state.get(name);
      if (!entry) continue;
      const src = fromArray(entry.data, entry.shape, { ctx: t.ctx });
      copyInPlace(t, src);
      src.dispose();
    }
  }

  /** Copies parameters and buffers from a model of the same architecture (one copy when both are flat). */
  copyFrom(other: Module): void {
    const mine = this.namedState();
    const theirs = other.namedState();
    const mismatch =
      mine.length !== theirs.length || mine.some(([n, t], i) => n !== theirs[i]![0] || t.shape.join() !== theirs[i]![1].shape.join());
    if (mismatch) throw new Error('copyFrom: the two modules do not have the same parameters and buffers');
    if (this.flat && other.flat && this.flat.sameLayout(other.flat)) {
      copyInPlace(this.flat.data, other.flat.data);
      for (const [name, b] of this.namedBuffers()) copyInPlace(b, other.namedBuffers().find(([n]) => n === name)![1]);
      return;
    }
    mine.forEach(([, t], i) => copyInPlace(t, theirs[i]![1]));
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const [, t] of this.namedState()) t.dispose();
    this.flat?.dispose();
    this.flat = null;
  }
}
