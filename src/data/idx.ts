/**
 * The IDX format of (Fashion-)MNIST (http://yann.lecun.com/exdb/mnist/): a 4-byte magic
 * (0, 0, type, rank), `rank` big-endian u32 dims, then the data. webgrad reads type 0x08
 * (unsigned byte), the type of every (Fashion-)MNIST file. Browser-safe: bytes in, arrays out.
 */

/** A decoded IDX file. */
export interface Idx {
  shape: number[];
  data: Uint8Array;
}

/** Decodes an (uncompressed) IDX file; `name` labels the errors. */
export function parseIdx(bytes: Uint8Array, name = 'idx'): Idx {
  if (bytes.length < 4) throw new Error(`${name}: ${bytes.length} bytes is too short for an IDX header`);
  if (bytes[0] !== 0 || bytes[1] !== 0) throw new Error(`${name}: not an IDX file (magic ${Array.from(bytes.subarray(0, 4)).join(',')})`);
  const type = bytes[2];
  const rank = bytes[3];
  if (type !== 0x08) throw new Error(`${name}: IDX element type 0x${type.toString(16)} is not supported (only unsigned bytes, 0x08)`);
  if (rank < 1 || rank > 4) throw new Error(`${name}: IDX rank ${rank} is out of range`);
  const head = 4 + 4 * rank;
  if (bytes.length < head) throw new Error(`${name}: truncated IDX header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => dv.getUint32(4 + 4 * i, false));
  const n = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== head + n) {
    throw new Error(`${name}: IDX shape [${shape}] needs ${head + n} bytes, the file has ${bytes.length}`);
  }
  return { shape, data: bytes.subarray(head, head + n) };
}

/** An image classification split held in memory: uint8 images [N, H, W] and labels [N]. */
export interface ImageSplit {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

/** Pairs an images file with a labels file, checking that they match. */
export function imageSplit(images: Idx, labels: Idx, name: string): ImageSplit {
  if (images.shape.length !== 3) throw new Error(`${name}: images must be [N, H, W], got [${images.shape}]`);
  if (labels.shape.length !== 1 || labels.shape[0] !== images.shape[0]) {
    throw new Error(`${name}: ${labels.shape[0]} labels for ${images.shape[0]} images`);
  }
  return { images: images.data, labels: labels.data, count: images.shape[0], height: images.shape[1], width: images.shape[2] };
}

/** Fashion-MNIST's training-set pixel mean and std (after scaling to [0, 1]). */
export const FASHION_MNIST_MEAN = 0.286;
export const FASHION_MNIST_STD = 0.353;

/**
 * Images of a split as flat normalised rows: x = (pixel / 255 - mean) / std, [count, H*W], with
 * labels as i32; optionally only the rows `from` to `to`.
 */
export function flattenImages(
  s: ImageSplit,
  { mean = FASHION_MNIST_MEAN, std = FASHION_MNIST_STD, from = 0, to = s.count }: { mean?: number; std?: number; from?: number; to?: number } = {},
): { x: Float32Array; y: Int32Array; count: number; dim: number } {
  if (!(from >= 0 && to <= s.count && from < to)) throw new Error(`flattenImages: rows [${from}, ${to}) are outside [0, ${s.count})`);
  const dim = s.height * s.width;
  const count = to - from;
  const x = new Float32Array(count * dim);
  const scale = 1 / (255 * std);
  for (let i = 0; i < x.length; i++) x[i] = s.images[from * dim + i] * scale - mean / std;
  return { x, y: Int32Array.from(s.labels.subarray(from, to)), count, dim };
}
