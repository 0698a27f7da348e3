/** Element types a tensor can hold. f32 for values; i32/u32 for indices, labels and random bits. */
export type DType = 'f32' | 'i32' | 'u32';

/** Every dtype is 4 bytes wide (WGSL storage arrays of f32/i32/u32). */
export const BYTES_PER_ELEMENT = 4;

/** The JS typed array that holds a dtype's elements. */
export type TypedArrayOf<D extends DType> = D extends 'f32'
  ? Float32Array
  : D extends 'i32'
    ? Int32Array
    : Uint32Array;

export type AnyTypedArray = Float32Array | Int32Array | Uint32Array;

/** Makes a typed array of `dtype` over `buffer` (or of `length` fresh elements). */
export function typedArray(dtype: DType, source: ArrayBuffer | number): AnyTypedArray {
  switch (dtype) {
    case 'f32':
      return typeof source === 'number' ? new Float32Array(source) : new Float32Array(source);
    case 'i32':
      return typeof source === 'number' ? new Int32Array(source) : new Int32Array(source);
    case 'u32':
      return typeof source === 'number' ? new Uint32Array(source) : new Uint32Array(source);
  }
}

/** The dtype a typed array stores. */
export function dtypeOfArray(a: AnyTypedArray): DType {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Int32Array) return 'i32';
  return 'u32';
}

export function assertDType(op: string, dtype: string): asserts dtype is DType {
  if (dtype !== 'f32' && dtype !== 'i32' && dtype !== 'u32') {
    throw new Error(`${op}: unknown dtype '${dtype}' (expected f32, i32 or u32)`);
  }
}
