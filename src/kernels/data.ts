/**
 * Launchers for shaders/data.wgsl: a batch of images, uploaded as packed bytes (u32 words, four
 * pixels each) or as f32, to a normalised f32 [N, C, H, W] tensor: (x / 255 - mean_c) / std_c for
 * bytes, (x - mean_c) / std_c for f32. Also the upload of a byte batch as packed words.
 */
import { Params } from '../command_batch.js';
import { dispatch } from '../dispatch.js';
import { runtime } from '../runtime.js';
import { fmt } from '../shape.js';
import { Tensor } from '../tensor.js';

const WG = 64;

/** Per-channel normalisation: `mean` and `std` of one value (all channels) or one per channel. */
export interface Normalization {
  mean?: number | readonly number[];
  std?: number | readonly number[];
}

/** Per-channel values of a scalar-or-array option, checked against C. */
function perChannel(op: string, name: string, v: number | readonly number[], c: number): number[] {
  const a = typeof v === 'number' ? new Array<number>(c).fill(v) : [...v];
  if (a.length !== c) throw new Error(`${op}: ${name} has ${a.length} values for ${c} channels`);
  if (!a.every(Number.isFinite)) throw new Error(`${op}: ${name} must be finite, got [${a}]`);
  return a;
}

/**
 * Uploads `bytes` (a batch of uint8 pixels) as a u32 tensor [ceil(n / 4)] of packed words (byte i
 * in bits 8 (i % 4) of word i / 4). The array's length may be anything; its underlying buffer is
 * read in place when the view is 4-byte aligned and a multiple of 4 long, copied otherwise.
 */
export function uploadPacked(bytes: Uint8Array): Tensor {
  const words = Math.ceil(bytes.length / 4);
  const t = Tensor.empty([words], 'u32');
  if (words === 0) return t;
  let src = bytes;
  if (bytes.byteOffset % 4 !== 0 || bytes.length % 4 !== 0) {
    src = new Uint8Array(words * 4);
    src.set(bytes);
  }
  runtime().device.queue.writeBuffer(t.buffer, 0, src.buffer, src.byteOffset, words * 4);
  return t;
}

/**
 * Converts an uploaded image batch to normalised f32 [N, C, H, W] (a new tensor; the input is not
 * consumed). `x`: packed bytes (u32 [ceil(N C H W / 4)], from `uploadPacked`) or f32 [N C H W
 * elements in any shape], contiguous. C <= 4. Default mean 0 and std 1: bytes become x / 255.
 */
export function imagesToFloat(x: Tensor, shape: readonly [number, number, number, number], norm: Normalization = {}): Tensor {
  const op = 'imagesToFloat';
  const [n, c, h, w] = shape;
  if (shape.length !== 4 || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new Error(`${op}: shape must be [N, C, H, W] of non-negative integers, got ${fmt(shape)}`);
  }
  if (c < 1 || c > 4) throw new Error(`${op}: ${c} channels in ${fmt(shape)}; 1 to 4 are supported`);
  const count = n * c * h * w;
  const packed = x.dtype === 'u32';
  if (x.dtype === 'i32') throw new Error(`${op}: x must be packed bytes (u32) or f32, got i32 ${fmt(x.shape)}`);
  const want = packed ? Math.ceil(count / 4) : count;
  if (x.size !== want || !x.isContiguous || x.offset !== 0) {
    throw new Error(`${op}: ${x.dtype} input ${fmt(x.shape)} does not hold ${fmt(shape)} as a contiguous ${packed ? `${want} packed words` : `${want} values`}`);
  }
  const mean = perChannel(op, 'mean', norm.mean ?? 0, c);
  const std = perChannel(op, 'std', norm.std ?? 1, c);
  if (!std.every((s) => s > 0)) throw new Error(`${op}: std must be > 0, got [${std}]`);
  const scale = [0, 0, 0, 0];
  const bias = [0, 0, 0, 0];
  for (let k = 0; k < c; k++) {
    scale[k] = 1 / ((packed ? 255 : 1) * std[k]);
    bias[k] = -mean[k] / std[k];
  }
  const out = Tensor.empty([n, c, h, w], 'f32');
  if (count === 0) return out;
  dispatch({
    op, shader: 'data', entry: packed ? 'data_u8' : 'data_f32', overrides: { WG },
    inputs: [x], outputs: [out],
    params: new Params().u32(count, h * w, c, 0).f32(...scale).f32(...bias),
    workgroups: Math.ceil(Math.ceil(count / 4) / WG),
  });
  return out;
}
