// safetensors encoding and decoding of float32 tensors, on bytes only (no fs), so it runs in the
// browser as well as in Node.
//
// Layout: 8-byte little-endian unsigned header length N; N bytes of UTF-8 JSON
//   {"__metadata__": {string: string}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
// padded with spaces so that N is a multiple of 8; then the data region, little-endian, row-major,
// offsets relative to its start. The tensors must tile the data region exactly: sorted by offset, each
// begins where the previous ended, the last ends at the end of the file, and end - begin = (bytes per element)·product(shape).
// The encoder writes what the reference implementation writes for F32 tensors: tensors ordered by name
// (UTF-8 bytes), "__metadata__" first, compact JSON, space padding. The decoder validates the whole file
// before returning anything and copies the data out (the result never aliases the input bytes).
// Tensors of other dtypes are refused, or, where the caller's `skip` allows them (PyTorch's int64
// BatchNorm counters), validated the same way and listed without their data.

export interface SafetensorsEntry {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

export interface DecodedTensor {
  shape: number[];
  data: Float32Array;
}

export interface DecodedSafetensors {
  /** In data-offset order. */
  tensors: Map<string, DecodedTensor>;
  /** Entries of another dtype that `DecodeOptions.skip` let through, validated but not decoded. */
  skipped: { name: string; dtype: string; shape: number[] }[];
  /** The "__metadata__" map, or null when the file has none. */
  metadata: Record<string, string> | null;
}

export interface DecodeOptions {
  /**
   * Entries of a dtype other than F32 are refused, except where this returns true: those are
   * checked like any other (known dtype, shape, size, offsets) and listed in `skipped` undecoded.
   */
  skip?: (name: string, dtype: string, shape: readonly number[]) => boolean;
}

const METADATA_KEY = '__metadata__';
const MAX_HEADER_BYTES = 100_000_000; // the reference implementation's limit
const DTYPE_SIZES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const encoder = new TextEncoder();

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Encodes float32 tensors (and optional string metadata) as a safetensors file. */
export function encodeSafetensors(entries: readonly SafetensorsEntry[], metadata?: Record<string, string>): Uint8Array {
  const op = 'encodeSafetensors';
  const seen = new Set<string>();
  for (const e of entries) {
    if (typeof e.name !== 'string' || e.name.length === 0) throw new Error(`${op}: every tensor needs a non-empty name`);
    if (e.name === METADATA_KEY) throw new Error(`${op}: "${METADATA_KEY}" is reserved and cannot name a tensor`);
    if (seen.has(e.name)) throw new Error(`${op}: duplicate tensor name "${e.name}"`);
    seen.add(e.name);
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new Error(`${op}: tensor "${e.name}" has shape ${fmtShape(e.shape)}; expected non-negative integers`);
    }
    if (!(e.data instanceof Float32Array)) throw new Error(`${op}: tensor "${e.name}" data must be a Float32Array`);
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (e.data.length !== n) {
      throw new Error(`${op}: tensor "${e.name}" has ${e.data.length} values; shape ${fmtShape(e.shape)} needs ${n}`);
    }
  }
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) throw new Error(`${op}: metadata must be an object of strings`);
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`${op}: metadata "${k}" is a ${typeof v}; values must be strings`);
    }
  }

  const named = entries.map((e) => ({ e, key: encoder.encode(e.name) }));
  named.sort((a, b) => compareBytes(a.key, b.key));
  const header: Record<string, unknown> = Object.create(null); // a tensor may be named "__proto__"
  if (metadata !== undefined) header[METADATA_KEY] = { ...metadata };
  let offset = 0;
  for (const { e } of named) {
    const bytes = e.data.length * 4;
    header[e.name] = { dtype: 'F32', shape: [...e.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = encoder.encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let pos = 8 + headerLength;
  for (const { e } of named) {
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(e.data.buffer, e.data.byteOffset, e.data.length * 4), pos);
    } else {
      for (let i = 0; i < e.data.length; i++) view.setFloat32(pos + 4 * i, e.data[i]!, true);
    }
    pos += e.data.length * 4;
  }
  return out;
}

interface Parsed {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

function fail(what: string): never {
  throw new Error(`decodeSafetensors: ${what}`);
}

function parseEntry(name: string, info: unknown, options: DecodeOptions): Parsed {
  if (info === null || typeof info !== 'object' || Array.isArray(info)) fail(`tensor "${name}": header entry is not an object`);
  const rec = info as Record<string, unknown>;
  for (const k of Object.keys(rec)) {
    if (k !== 'dtype' && k !== 'shape' && k !== 'data_offsets') fail(`tensor "${name}": unknown header field "${k}"`);
  }
  const { dtype, shape, data_offsets: offsets } = rec;
  if (typeof dtype !== 'string') fail(`tensor "${name}": dtype is missing or not a string`);
  if (!(dtype in DTYPE_SIZES)) fail(`tensor "${name}": unknown dtype "${dtype}"`);
  if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) {
    fail(`tensor "${name}": shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (dtype !== 'F32' && !options.skip?.(name, dtype, shape as number[])) {
    fail(`tensor "${name}": dtype ${dtype} is not supported (only F32)`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) {
    fail(`tensor "${name}": data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail(`tensor "${name}": data_offsets [${begin}, ${end}] end before they begin`);
  const dims = shape as number[];
  const bytesPer = DTYPE_SIZES[dtype]!;
  const count = dims.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count * bytesPer)) fail(`tensor "${name}": shape ${fmtShape(dims)} is too large`);
  if (end - begin !== count * bytesPer) {
    fail(`tensor "${name}": data_offsets [${begin}, ${end}] hold ${end - begin} bytes; ${dtype} shape ${fmtShape(dims)} needs ${count * bytesPer}`);
  }
  return { name, dtype, shape: [...dims], begin, end };
}

/**
 * Decodes a safetensors file of F32 tensors (other dtypes only where `options.skip` allows them:
 * validated, then left out); throws, naming the problem, on any malformed input.
 */
export function decodeSafetensors(input: Uint8Array | ArrayBuffer, options: DecodeOptions = {}): DecodedSafetensors {
  const bytes = input instanceof Uint8Array ? input : input instanceof ArrayBuffer ? new Uint8Array(input) : fail('expected a Uint8Array or ArrayBuffer');
  if (bytes.length < 8) fail(`truncated file: ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthLow = view.getUint32(0, true);
  const lengthHigh = view.getUint32(4, true);
  const headerLength = lengthHigh * 2 ** 32 + lengthLow;
  if (headerLength > MAX_HEADER_BYTES) fail(`bad header length ${headerLength} (more than ${MAX_HEADER_BYTES} bytes)`);
  if (8 + headerLength > bytes.length) {
    fail(`truncated file: header length ${headerLength} runs past the end of the ${bytes.length}-byte file`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    fail('bad header: not valid UTF-8');
  }
  if (!/^[ \t\n\r]*\{/.test(text)) fail('bad header: it does not start with "{"');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`bad header: invalid JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('bad header: not a JSON object');

  let metadata: Record<string, string> | null = null;
  const parsed: Parsed[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (info === null || typeof info !== 'object' || Array.isArray(info)) fail(`bad header: "${METADATA_KEY}" is not an object`);
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`bad header: metadata "${k}" is not a string`);
      }
      metadata = { ...(info as Record<string, string>) };
      continue;
    }
    parsed.push(parseEntry(name, info, options));
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  parsed.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const p of parsed) {
    if (p.begin !== cursor) {
      if (p.begin < cursor) fail(`bad offsets: tensor "${p.name}" [${p.begin}, ${p.end}] overlaps the previous tensor, which ends at ${cursor}`);
      fail(`bad offsets: gap before tensor "${p.name}": it begins at ${p.begin}, the previous tensor ends at ${cursor}`);
    }
    if (p.end > dataLength) fail(`truncated file: tensor "${p.name}" ends at data byte ${p.end}, the data region has ${dataLength} bytes`);
    cursor = p.end;
  }
  if (cursor !== dataLength) fail(`bad offsets: the tensors cover ${cursor} bytes, the data region has ${dataLength} (trailing bytes)`);

  const tensors = new Map<string, DecodedTensor>();
  const skipped: DecodedSafetensors['skipped'] = [];
  for (const p of parsed) {
    if (p.dtype !== 'F32') {
      skipped.push({ name: p.name, dtype: p.dtype, shape: p.shape });
      continue;
    }
    const count = (p.end - p.begin) / 4;
    const at = bytes.byteOffset + dataStart + p.begin;
    let data: Float32Array;
    if (LITTLE_ENDIAN) {
      data = new Float32Array(bytes.buffer.slice(at, at + count * 4));
    } else {
      data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + p.begin + 4 * i, true);
    }
    tensors.set(p.name, { shape: p.shape, data });
  }
  return { tensors, skipped, metadata };
}
