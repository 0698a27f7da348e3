/** Creating tensors: from JS data (uploaded), or filled on the GPU. */
import { dtypeOfArray, typedArray, type AnyTypedArray, type DType } from './dtype.js';
import { checkShape, fmt, sizeOf, type Shape } from './shape.js';
import { runtime } from './runtime.js';
import { Tensor } from './tensor.js';
import { fillInto, launchMap } from './kernels/elementwise.js';

/** Nested arrays of numbers, e.g. [[1, 2], [3, 4]]. */
export type NestedArray = number | readonly NestedArray[];

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let d: NestedArray = data;
  while (Array.isArray(d)) {
    shape.push(d.length);
    d = d[0] as NestedArray;
    if (d === undefined) break;
  }
  return shape;
}

function flatten(op: string, data: NestedArray, shape: Shape, out: number[], dim = 0): void {
  if (dim === shape.length) {
    if (typeof data !== 'number') throw new Error(`${op}: ragged nested array, expected shape ${fmt(shape)}`);
    out.push(data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[dim]) {
    throw new Error(`${op}: ragged nested array, expected shape ${fmt(shape)}`);
  }
  for (const x of data) flatten(op, x, shape, out, dim + 1);
}

/** Options of {@link tensor}. */
export interface TensorOptions {
  shape?: Shape;
  dtype?: DType;
}

/**
 * A tensor from JS data: nested arrays, a flat array or a typed array (with `shape`).
 * dtype defaults to the typed array's, else f32.
 */
export function tensor(data: NestedArray | AnyTypedArray | readonly number[], opts: TensorOptions = {}): Tensor {
  let values: AnyTypedArray;
  let shape: Shape;
  const isTyped = ArrayBuffer.isView(data);
  const dtype: DType = opts.dtype ?? (isTyped ? dtypeOfArray(data as AnyTypedArray) : 'f32');
  if (isTyped) {
    const src = data as AnyTypedArray;
    values = dtypeOfArray(src) === dtype ? src : (typedArray(dtype, src.length) as AnyTypedArray);
    if (values !== src) for (let i = 0; i < src.length; i++) values[i] = src[i];
    shape = opts.shape ?? [src.length];
  } else {
    const nested = data as NestedArray;
    const flat: number[] = [];
    const natural = inferShape(nested);
    flatten('tensor', nested, natural, flat);
    values = typedArray(dtype, flat.length);
    for (let i = 0; i < flat.length; i++) values[i] = flat[i];
    shape = opts.shape ?? natural;
  }
  checkShape('tensor', shape);
  if (sizeOf(shape) !== values.length) {
    throw new Error(`tensor: ${values.length} values do not fill shape ${fmt(shape)} (${sizeOf(shape)} elements)`);
  }
  const t = Tensor.empty(shape, dtype);
  if (values.length > 0) runtime().device.queue.writeBuffer(t.buffer, 0, values.buffer, values.byteOffset, values.byteLength);
  return t;
}

/** An uninitialised tensor. */
export function empty(shape: Shape, dtype: DType = 'f32'): Tensor {
  checkShape('empty', shape);
  return Tensor.empty(shape, dtype);
}

/** A tensor filled with `value`. */
export function full(shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
  checkShape('full', shape);
  const t = Tensor.empty(shape, dtype);
  fillInto(t, value);
  return t;
}

export const zeros = (shape: Shape, dtype: DType = 'f32'): Tensor => full(shape, 0, dtype);
export const ones = (shape: Shape, dtype: DType = 'f32'): Tensor => full(shape, 1, dtype);
export const zerosLike = (t: Tensor): Tensor => full(t.shape, 0, t.dtype);
export const onesLike = (t: Tensor): Tensor => full(t.shape, 1, t.dtype);
export const fullLike = (t: Tensor, value: number): Tensor => full(t.shape, value, t.dtype);

/** [start, start+step, ...) below `end`, as `torch.arange`; computed on the GPU. */
export function arange(start: number, end?: number, step = 1, dtype: DType = 'f32'): Tensor {
  if (end === undefined) [start, end] = [0, start];
  if (step === 0) throw new Error('arange: step must be nonzero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const t = Tensor.empty([n], dtype);
  if (dtype !== 'f32' && (!Number.isInteger(start) || !Number.isInteger(step))) {
    throw new Error(`arange: start ${start} and step ${step} must be integers for ${dtype}`);
  }
  const bits = (v: number) => (dtype === 'f32' ? new Uint32Array(new Float32Array([v]).buffer)[0] : v >>> 0);
  // The output index is the element index: out = start + idx * step, with idx from a u32 arange.
  const expr = dtype === 'f32'
    ? `bitcast<f32>(p.s0) + f32(idx) * bitcast<f32>(p.s1)`
    : `bitcast<${dtype}>(p.s0) + ${dtype}(idx) * bitcast<${dtype}>(p.s1)`;
  launchMap({ op: 'arange', inputs: [], expr, outDtype: dtype, out: t, scalars: [bits(start), bits(step)] });
  return t;
}
