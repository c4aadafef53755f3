// Packs uniform values into the byte layout of the WGSL `Params` struct that kernels/spec.ts
// declares: scalars are 4 bytes with 4-byte alignment, vec4 and arrays of vec4 are 16-byte aligned,
// and the struct size is rounded up to 16 bytes.
import type { UniformField, UniformValues } from '../../kernels/spec';

interface Placed {
  field: UniformField;
  offset: number; // in 4-byte words
  words: number;
}

export interface UniformLayout {
  placed: Placed[];
  byteSize: number;
}

export function layoutUniforms(fields: UniformField[]): UniformLayout {
  const placed: Placed[] = [];
  let word = 0;
  for (const field of fields) {
    const isVec = field.type.startsWith('vec4');
    if (field.length !== undefined && !isVec) {
      throw new Error(`uniform field '${field.name}': arrays must have a vec4 element type, got ${field.type}`);
    }
    const align = isVec ? 4 : 1;
    word = Math.ceil(word / align) * align;
    const words = isVec ? 4 * (field.length ?? 1) : 1;
    placed.push({ field, offset: word, words });
    word += words;
  }
  const byteSize = Math.max(16, Math.ceil((word * 4) / 16) * 16);
  return { placed, byteSize };
}

/** Writes `values` into a new buffer laid out for `layout`; a missing field is an error. */
export function packUniforms(kernelName: string, layout: UniformLayout, values: UniformValues): ArrayBuffer {
  const bytes = new ArrayBuffer(layout.byteSize);
  const u32 = new Uint32Array(bytes);
  const i32 = new Int32Array(bytes);
  const f32 = new Float32Array(bytes);
  for (const { field, offset, words } of layout.placed) {
    const value = values[field.name];
    if (value === undefined) throw new Error(`${kernelName}: uniform '${field.name}' was not given`);
    const list: ArrayLike<number> = typeof value === 'number' ? [value] : value;
    if (list.length > words) {
      throw new Error(`${kernelName}: uniform '${field.name}' has ${list.length} values, room for ${words}`);
    }
    const kind = field.type.includes('f32') ? 'f' : field.type.includes('i32') ? 'i' : 'u';
    for (let i = 0; i < list.length; i++) {
      const v = list[i]!;
      if (kind === 'f') f32[offset + i] = v;
      else if (kind === 'i') i32[offset + i] = v;
      else {
        if (v < 0 || !Number.isInteger(v) || v > 0xffffffff) {
          throw new Error(`${kernelName}: uniform '${field.name}' must be a u32, got ${v}`);
        }
        u32[offset + i] = v;
      }
    }
  }
  return bytes;
}
