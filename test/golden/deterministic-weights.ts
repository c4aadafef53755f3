// Deterministic ResNet weights and inputs from a counter-based hash: the TypeScript twin of
// test/golden/weights.py. Both give bit-identical float32 values (test/golden-weights.test.ts checks
// it against values the Python side wrote); change one only together with the other.
//
// All integer arithmetic is modulo 2^32 (Math.imul, >>> 0):
//   mix(x)             = x ^= x >>> 16; x *= 0x7feb352d; x ^= x >>> 15; x *= 0x846ca68b; x ^= x >>> 16
//   stream(name)       = FNV-1a 32-bit of the UTF-8 bytes of the state_dict name
//   key(seed, name)    = mix(mix(seed ^ 0x9e3779b9) ^ stream(name))
//   hash(seed, name, i)= mix(mix(i ^ key) + key)                 i = row-major element index
//   u                  = ((hash >>> 8) - 2^23) / 2^23            24 bits, u in [-1, 1), exact in float32
// Scaling is done in float64 and rounded once to float32 (Math.fround, as numpy's astype(float32)):
//   weight, bias: u / sqrt(fanIn)   bn_weight: 1 + 0.1u   bn_bias, running_mean: 0.1u
//   running_var: 1 + 0.5|u|         input: 2u
// A tensor is identified by its name, not its position, so any subset can be generated in any order.

export type WeightKind = 'weight' | 'bias' | 'bn_weight' | 'bn_bias' | 'running_mean' | 'running_var' | 'input';

export interface WeightSpec {
  name: string;
  shape: readonly number[];
  kind: WeightKind;
  /** Required for 'weight' (defaults to the product of shape[1:]) and 'bias' (the layer's in_features). */
  fanIn?: number;
}

const KINDS: readonly WeightKind[] = ['weight', 'bias', 'bn_weight', 'bn_bias', 'running_mean', 'running_var', 'input'];
const SEED_SALT = 0x9e3779b9;

export function mix32(x: number): number {
  x >>>= 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** FNV-1a 32-bit over the UTF-8 bytes of a name. */
export function nameStream(name: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(name)) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export function tensorKey(seed: number, name: string): number {
  return mix32(mix32((seed ^ SEED_SALT) >>> 0) ^ nameStream(name));
}

/** hash(seed, name, i) for one element index. */
export function hashU32(seed: number, name: string, index: number): number {
  const key = tensorKey(seed, name);
  return mix32(mix32((index ^ key) >>> 0) + key);
}

function checkSeed(op: string, seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new Error(`${op}: seed must be an integer in [0, 2^32), got ${seed}`);
  }
}

/** u in [-1, 1) (24 bits) for elements 0..n-1 of the tensor `name`. */
export function uniformValues(seed: number, name: string, n: number): Float64Array {
  checkSeed('uniformValues', seed);
  const key = tensorKey(seed, name);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const h = mix32(mix32((i ^ key) >>> 0) + key);
    out[i] = ((h >>> 8) - 8388608) / 8388608;
  }
  return out;
}

function scaleOf(spec: WeightSpec): (u: number) => number {
  switch (spec.kind) {
    case 'weight':
    case 'bias': {
      const fanIn = spec.fanIn ?? (spec.kind === 'weight' ? spec.shape.slice(1).reduce((a, b) => a * b, 1) : undefined);
      if (fanIn === undefined || !(fanIn > 0)) {
        throw new Error(`deterministicTensor: ${spec.name} [${spec.shape.join(', ')}] of kind ${spec.kind} needs a positive fanIn, got ${fanIn}`);
      }
      const s = 1 / Math.sqrt(fanIn);
      return (u) => u * s;
    }
    case 'bn_weight':
      return (u) => 1 + 0.1 * u;
    case 'bn_bias':
    case 'running_mean':
      return (u) => 0.1 * u;
    case 'running_var':
      return (u) => 1 + 0.5 * Math.abs(u);
    case 'input':
      return (u) => 2 * u;
    default:
      throw new Error(`deterministicTensor: ${spec.name} has unknown kind ${String(spec.kind)}; expected one of ${KINDS.join(', ')}`);
  }
}

/** One tensor's float32 values (row-major). */
export function deterministicTensor(seed: number, spec: WeightSpec): Float32Array {
  for (const d of spec.shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`deterministicTensor: ${spec.name} has a bad shape [${spec.shape.join(', ')}]`);
  }
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const scale = scaleOf(spec);
  const u = uniformValues(seed, spec.name, n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale(u[i]!); // the Float32Array store rounds to nearest even
  return out;
}

/** Every tensor of a list, keyed by name (in list order). */
export function deterministicWeights(specs: readonly WeightSpec[], seed: number): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const spec of specs) {
    if (out.has(spec.name)) throw new Error(`deterministicWeights: duplicate name ${spec.name}`);
    out.set(spec.name, deterministicTensor(seed, spec));
  }
  return out;
}

/** An input batch: kind 'input' under the name 'input' (values in [-2, 2)). */
export function deterministicInput(seed: number, shape: readonly number[]): Float32Array {
  return deterministicTensor(seed, { name: 'input', shape, kind: 'input' });
}

/** `count` element indices of a tensor (repeats possible), picked by the same hash. */
export function sampleIndices(seed: number, name: string, numel: number, count = 64): number[] {
  checkSeed('sampleIndices', seed);
  const key = tensorKey(seed, name);
  const out: number[] = [];
  for (let k = 0; k < count; k++) out.push(mix32(mix32((k ^ key) >>> 0) + key) % numel);
  return out;
}

/** Position-sensitive checksum of float32 bit patterns: sum_i mix(bits_i + i*0x9e3779b9) mod 2^32. */
export function bitsChecksum(data: Float32Array): number {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  let acc = 0;
  for (let i = 0; i < bits.length; i++) acc = (acc + mix32(bits[i]! + Math.imul(i, SEED_SALT))) >>> 0;
  return acc;
}

/**
 * The kind of a torchvision ResNet state_dict entry, from its name: `bn*` and `downsample.1` are
 * BatchNorm, `conv*` and `downsample.0` convolutions, `fc` the linear layer (whose bias needs fanIn).
 * Returns null for num_batches_tracked (not generated).
 */
export function torchvisionResnetSpec(name: string, shape: readonly number[], fcInFeatures = 512): WeightSpec | null {
  const parts = name.split('.');
  const leaf = parts[parts.length - 1]!;
  const owner = parts[parts.length - 2] ?? '';
  const grand = parts[parts.length - 3] ?? '';
  if (leaf === 'num_batches_tracked') return null;
  const isBn = owner.startsWith('bn') || (grand === 'downsample' && owner === '1');
  const isConv = owner.startsWith('conv') || (grand === 'downsample' && owner === '0');
  if (isBn) {
    const kinds: Record<string, WeightKind> = { weight: 'bn_weight', bias: 'bn_bias', running_mean: 'running_mean', running_var: 'running_var' };
    const kind = kinds[leaf];
    if (kind) return { name, shape, kind };
  } else if (isConv && leaf === 'weight') {
    return { name, shape, kind: 'weight' };
  } else if (owner === 'fc' && leaf === 'weight') {
    return { name, shape, kind: 'weight' };
  } else if (owner === 'fc' && leaf === 'bias') {
    return { name, shape, kind: 'bias', fanIn: fcInFeatures };
  }
  throw new Error(`torchvisionResnetSpec: no deterministic init rule for ${name} [${shape.join(', ')}]`);
}
