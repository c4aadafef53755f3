// safetensors I/O (lib/io/safetensors.ts): bit-exact round trips on fresh random data (special
// values included), the reference layout (8-byte length, compact JSON with "__metadata__" first and
// tensors by name, space padding to 8 bytes), a file written by the Python side (decodes to its
// deterministic values; our encoder reproduces it byte for byte), and every kind of corruption refused
// with an error that names the problem.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import { decodeSafetensors, encodeSafetensors, type SafetensorsEntry } from '../lib/io/safetensors';
import { deterministicTensor, type WeightSpec } from './golden/deterministic-weights';
import { FIXTURE_DIR } from './golden/fixture';
import { assertThrows } from './helpers/assert';
import { caseGenerator, randomArray } from './helpers/check';

const text = new TextEncoder();

function sameBits(label: string, a: Float32Array, b: Float32Array): void {
  if (a.length !== b.length) throw new Error(`${label}: ${a.length} values, expected ${b.length}`);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) throw new Error(`${label}: element ${i} has bits ${x[i]}, expected ${y[i]}`);
}

function sameBytes(label: string, a: Uint8Array, b: Uint8Array): void {
  if (a.length !== b.length) throw new Error(`${label}: ${a.length} bytes, expected ${b.length}`);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error(`${label}: byte ${i} is ${a[i]}, expected ${b[i]}`);
}

/** A file from a header (object or raw string), a data region and an optional header-length override. */
function craft(header: unknown, data: Uint8Array | number = 0, lengthOverride?: bigint): Uint8Array {
  const json = header instanceof Uint8Array ? header : text.encode(typeof header === 'string' ? header : JSON.stringify(header));
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

const f32 = (name: string, shape: number[], begin: number) => ({
  [name]: { dtype: 'F32', shape, data_offsets: [begin, begin + 4 * shape.reduce((a, b) => a * b, 1)] },
});

test('round trip: random tensors of many shapes, special values and metadata, bit for bit', () => {
  const g = caseGenerator();
  const shapes = [[], [0], [0, 3], [1], [7], [3, 5], [2, 3, 4, 5], [4, 1, 1, 257]];
  const entries: SafetensorsEntry[] = shapes.map((shape, i) => ({
    name: ['b.weight', 'a.bias', 'é.ü', '__proto__', 'layer1.0.conv1.weight', 'z', 'constructor', 'x y'][i]!,
    shape,
    data: randomArray(g, shape.reduce((a, b) => a * b, 1), (r) => r.normal() * 10 ** r.uniformRange(-40, 38)),
  }));
  const special = new Float32Array([0, -0, Infinity, -Infinity, NaN, 1e-45, -3.4028234663852886e38, 1.17549435e-38]);
  const payload = new Float32Array(new Uint32Array([0x7fc12345, 0xffa00001]).buffer); // NaNs with payloads
  entries.push({ name: 'special', shape: [2, 4], data: special }, { name: 'nan.payload', shape: [2], data: payload });
  const metadata = { format: 'pt', note: 'ünïcode "quoted" \n newline', empty: '' };
  const bytes = encodeSafetensors(entries, metadata);
  const back = decodeSafetensors(bytes);
  if (JSON.stringify(back.metadata) !== JSON.stringify(metadata)) throw new Error(`metadata came back as ${JSON.stringify(back.metadata)}`);
  if (back.tensors.size !== entries.length) throw new Error(`${back.tensors.size} tensors came back, wrote ${entries.length}`);
  for (const e of entries) {
    const t = back.tensors.get(e.name);
    if (!t) throw new Error(`tensor ${e.name} is missing`);
    if (t.shape.join() !== e.shape.join() || t.shape.length !== e.shape.length) throw new Error(`${e.name}: shape [${t.shape}], wrote [${e.shape}]`);
    sameBits(e.name, t.data, e.data);
  }
  const noMeta = decodeSafetensors(encodeSafetensors(entries.slice(0, 2)));
  if (noMeta.metadata !== null) throw new Error('a file without metadata should decode to metadata null');
});

test('layout follows the reference writer: length, compact JSON by name, metadata first, space padding', () => {
  const empty = encodeSafetensors([]);
  sameBytes('empty file', empty, new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 32, 32, 32, 32, 32, 32]));
  const data = new Float32Array([0, 1, 2, 3, 4, 5]);
  const one = encodeSafetensors([{ name: 'attn.0', shape: [1, 2, 3], data }]);
  const json = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
  const padded = json + ' '.repeat((8 - (json.length % 8)) % 8);
  sameBytes('one tensor', one, craft(padded, new Uint8Array(data.buffer)));
  const two = encodeSafetensors([{ name: 'b', shape: [1], data: new Float32Array([2]) }, { name: 'a', shape: [1], data: new Float32Array([1]) }], { k: 'v' });
  const n = Number(new DataView(two.buffer).getBigUint64(0, true));
  const header = new TextDecoder().decode(two.subarray(8, 8 + n));
  if (n % 8 !== 0 || !header.startsWith('{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":')) {
    throw new Error(`unexpected header ${JSON.stringify(header)} (length ${n})`);
  }
  const body = header.trimEnd();
  if (!body.endsWith('}') || !/^ *$/.test(header.slice(body.length))) throw new Error(`padding is not spaces: ${JSON.stringify(header)}`);
  const values = new Float32Array(two.buffer.slice(8 + n));
  if (values.join() !== '1,2') throw new Error(`data region holds ${values.join()}, expected a then b`);
});

test('a file written by the Python side decodes to its values, and our encoder writes the same bytes', () => {
  const bytes = new Uint8Array(readFileSync(new URL('python-written.safetensors', FIXTURE_DIR)));
  const manifest = JSON.parse(readFileSync(new URL('python-written.json', FIXTURE_DIR), 'utf8')) as {
    seed: number;
    metadata: Record<string, string>;
    tensors: WeightSpec[];
  };
  const { tensors, metadata } = decodeSafetensors(bytes);
  if (JSON.stringify(metadata) !== JSON.stringify(manifest.metadata)) throw new Error(`metadata ${JSON.stringify(metadata)}`);
  if (tensors.size !== manifest.tensors.length) throw new Error(`${tensors.size} tensors, manifest lists ${manifest.tensors.length}`);
  const entries: SafetensorsEntry[] = [];
  for (const spec of manifest.tensors) {
    const t = tensors.get(spec.name);
    if (!t) throw new Error(`${spec.name} missing from the Python file`);
    if (JSON.stringify(t.shape) !== JSON.stringify(spec.shape)) throw new Error(`${spec.name}: shape [${t.shape}], expected [${spec.shape}]`);
    const want = deterministicTensor(manifest.seed, spec);
    sameBits(spec.name, t.data, want);
    entries.push({ name: spec.name, shape: spec.shape, data: want });
  }
  if (!manifest.tensors.some((s) => s.shape.length === 0) || !manifest.tensors.some((s) => s.shape.includes(0))) {
    throw new Error('the Python file should hold a scalar and an empty tensor');
  }
  sameBytes('re-encoded Python file', encodeSafetensors(entries, manifest.metadata), bytes);
});

test('decoding works from an ArrayBuffer and from an unaligned view, and never aliases the input', () => {
  const g = caseGenerator();
  const data = randomArray(g, 13);
  const bytes = encodeSafetensors([{ name: 'w', shape: [13], data }]);
  sameBits('ArrayBuffer', decodeSafetensors(bytes.buffer.slice(0) as ArrayBuffer).tensors.get('w')!.data, data);
  const host = new Uint8Array(bytes.length + 3);
  host.set(bytes, 3);
  const decoded = decodeSafetensors(host.subarray(3));
  sameBits('unaligned view', decoded.tensors.get('w')!.data, data);
  host.fill(0);
  sameBits('after the input was overwritten', decoded.tensors.get('w')!.data, data);
});

test('corrupt files are refused with an error naming the problem', () => {
  const good = encodeSafetensors([
    { name: 'a', shape: [2], data: new Float32Array([1, 2]) },
    { name: 'b', shape: [3], data: new Float32Array([3, 4, 5]) },
  ]);
  const bad: [string, Uint8Array, ...(string | RegExp)[]][] = [
    ['empty input', new Uint8Array(0), 'truncated file', '0 bytes'],
    ['7 bytes', good.subarray(0, 7), 'truncated file'],
    ['header runs past the end', craft('{}', 0, 100n), 'truncated file', 'header length 100'],
    ['huge header length', craft('{}', 0, 2n ** 62n), 'bad header length'],
    ['last byte cut off', good.subarray(0, good.length - 1), 'truncated file', '"b"'],
    ['trailing bytes', new Uint8Array([...good, 0, 0, 0, 0]), 'trailing bytes'],
    ['invalid UTF-8', craft(new Uint8Array([0x7b, 0xff, 0x7d])), 'not valid UTF-8'],
    ['not JSON', craft('{"a": '), 'invalid JSON'],
    ['JSON array', craft('[]'), 'does not start with'],
    ['JSON null', craft('null'), 'does not start with'],
    ['byte order mark', craft('\ufeff{}'), 'does not start with'],
    ['metadata not an object', craft({ __metadata__: 'x' }), '__metadata__'],
    ['metadata value not a string', craft({ __metadata__: { n: 1 } }), 'metadata "n"'],
    ['entry not an object', craft({ a: [1, 2] }), '"a"', 'not an object'],
    ['missing dtype', craft({ a: { shape: [1], data_offsets: [0, 4] } }, 4), '"a"', 'dtype'],
    ['unknown dtype', craft({ a: { dtype: 'F99', shape: [1], data_offsets: [0, 4] } }, 4), '"a"', 'unknown dtype "F99"'],
    ['unsupported dtype', craft({ a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } }, 8), '"a"', 'F64 is not supported'],
    ['I64 (torch num_batches_tracked)', craft({ a: { dtype: 'I64', shape: [], data_offsets: [0, 8] } }, 8), 'I64 is not supported'],
    ['negative dimension', craft({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), '"a"', 'shape'],
    ['fractional dimension', craft({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4), 'shape'],
    ['shape not a list', craft({ a: { dtype: 'F32', shape: 3, data_offsets: [0, 12] } }, 12), 'shape'],
    ['offsets not a pair', craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4), 'data_offsets'],
    ['negative offset', craft({ a: { dtype: 'F32', shape: [0], data_offsets: [-4, -4] } }), 'data_offsets'],
    ['end before begin', craft({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, 8), 'end before'],
    ['size does not match shape', craft({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), '"a"', 'needs 12'],
    ['unknown field', craft({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4], extra: 1 } }, 4), 'unknown header field "extra"'],
    ['gap between tensors', craft({ ...f32('a', [1], 0), ...f32('b', [1], 8) }, 12), 'gap before tensor "b"'],
    ['gap at the start', craft(f32('a', [1], 4), 8), 'gap before tensor "a"'],
    ['overlapping tensors', craft({ ...f32('a', [2], 0), ...f32('b', [2], 4) }, 12), 'overlaps'],
    ['offsets past the data', craft(f32('a', [4], 0), 8), 'truncated file', '"a"'],
    ['data but no tensors', craft('{}', 4), 'trailing bytes'],
    ['valid first tensor, bad second', craft({ ...f32('a', [1], 0), b: { dtype: 'F32', shape: [2], data_offsets: [4, 8] } }, 8), '"b"'],
  ];
  for (const [what, bytes, ...patterns] of bad) {
    try {
      assertThrows(() => decodeSafetensors(bytes), 'decodeSafetensors', ...patterns);
    } catch (e) {
      throw new Error(`${what}: ${(e as Error).message}`);
    }
  }
  // the good file itself decodes, so the refusals above come from the corruption
  if (decodeSafetensors(good).tensors.get('b')!.data.join() !== '3,4,5') throw new Error('the uncorrupted file does not decode');
});

test('other dtypes pass only where `skip` allows them: checked like F32, listed, not decoded', () => {
  // b.num_batches_tracked as safetensors' save_file writes it (int64 scalar), between two F32 tensors.
  const header = {
    ...f32('a', [2], 0),
    'b.num_batches_tracked': { dtype: 'I64', shape: [], data_offsets: [8, 16] },
    ...f32('c', [1], 16),
  };
  const body = new Uint8Array(20);
  new DataView(body.buffer).setFloat32(0, 1.5, true);
  new DataView(body.buffer).setFloat32(16, -2, true);
  const file = craft(header, body);
  assertThrows(() => decodeSafetensors(file), 'decodeSafetensors', '"b.num_batches_tracked"', 'I64 is not supported');
  const seen: string[] = [];
  const decoded = decodeSafetensors(file, { skip: (name, dtype, shape) => (seen.push(`${name}:${dtype}:[${shape}]`), dtype === 'I64') });
  if (seen.join() !== 'b.num_batches_tracked:I64:[]') throw new Error(`skip was asked about ${seen.join()}`);
  if ([...decoded.tensors.keys()].join() !== 'a,c') throw new Error(`decoded ${[...decoded.tensors.keys()]}`);
  if (decoded.tensors.get('c')!.data[0] !== -2 || decoded.tensors.get('a')!.data[0] !== 1.5) throw new Error('F32 values moved');
  if (JSON.stringify(decoded.skipped) !== '[{"name":"b.num_batches_tracked","dtype":"I64","shape":[]}]') {
    throw new Error(`skipped: ${JSON.stringify(decoded.skipped)}`);
  }
  // A skipped entry is still validated: its size must match its own dtype.
  const short = craft({ ...f32('a', [2], 0), n: { dtype: 'I64', shape: [], data_offsets: [8, 12] } }, 12);
  assertThrows(() => decodeSafetensors(short, { skip: () => true }), '"n"', 'I64 shape []', 'needs 8');
  const unknown = craft({ n: { dtype: 'Q7', shape: [], data_offsets: [0, 8] } }, 8);
  assertThrows(() => decodeSafetensors(unknown, { skip: () => true }), 'unknown dtype "Q7"');
});

test('bad tensors are refused by the encoder with errors naming them', () => {
  const one = new Float32Array(1);
  assertThrows(() => encodeSafetensors([{ name: 'w', shape: [2, 2], data: new Float32Array(3) }]), 'encodeSafetensors', '"w"', '3 values', 'needs 4');
  assertThrows(() => encodeSafetensors([{ name: 'w', shape: [1], data: one }, { name: 'w', shape: [1], data: one }]), 'duplicate', '"w"');
  assertThrows(() => encodeSafetensors([{ name: 'w', shape: [-1], data: one }]), '"w"', 'shape');
  assertThrows(() => encodeSafetensors([{ name: '', shape: [1], data: one }]), 'name');
  assertThrows(() => encodeSafetensors([{ name: '__metadata__', shape: [1], data: one }]), 'reserved');
  assertThrows(() => encodeSafetensors([{ name: 'w', shape: [1], data: [0] as unknown as Float32Array }]), 'Float32Array');
  assertThrows(() => encodeSafetensors([], { n: 1 } as unknown as Record<string, string>), 'metadata "n"');
});

test.run();
