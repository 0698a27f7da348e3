/**
 * Node-only: Fashion-MNIST from its gzip-compressed IDX files, as Debian's `dataset-fashion-mnist`
 * installs them (`/usr/share/datasets/fashion-mnist/`) or in a directory the user names; as the raw
 * split (`loadFashionMnist`) or as a {@link Dataset} (`fashionMnist`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ArrayDataset, type Dataset } from './dataset.js';
import { imageSplit, parseIdx, type ImageSplit } from './idx.js';

/** Where Debian's package puts the files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The ten class names, by label. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;

function readIdxGz(file: string) {
  if (!fs.existsSync(file)) {
    throw new Error(`fashion-mnist: ${file} not found; install Debian's dataset-fashion-mnist (bash scripts/setup.sh) or pass the directory holding the .gz files`);
  }
  let raw: Buffer;
  try {
    raw = gunzipSync(fs.readFileSync(file));
  } catch (e) {
    throw new Error(`fashion-mnist: ${file} is not a readable gzip file (${(e as Error).message})`);
  }
  return parseIdx(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), file);
}

/** Loads the 'train' (60,000) or 'test' (10,000) split (dir: default $WEBGRAD_FASHION_MNIST, else Debian's path). */
export function loadFashionMnist(split: 'train' | 'test', dir: string = process.env.WEBGRAD_FASHION_MNIST ?? FASHION_MNIST_DIR): ImageSplit {
  const stem = split === 'train' ? 'train' : 't10k';
  return imageSplit(
    readIdxGz(path.join(dir, `${stem}-images-idx3-ubyte.gz`)),
    readIdxGz(path.join(dir, `${stem}-labels-idx1-ubyte.gz`)),
    `fashion-mnist ${split}`,
  );
}

/** Options of {@link fashionMnist}. */
export interface FashionMnistOptions {
  /** 'train' (60,000 images, the default) or 'test' (10,000). */
  split?: 'train' | 'test';
  /** Directory of the four .gz files (default: $WEBGRAD_FASHION_MNIST, else Debian's path). */
  dir?: string;
  /** Keep only the first `limit` images of the split. */
  limit?: number;
}

/**
 * Fashion-MNIST as a {@link Dataset}: uint8 images [1, 28, 28], labels 0..9, `classes` the ten
 * names. Errors name the missing or malformed file.
 */
export function fashionMnist(opts: FashionMnistOptions = {}): ArrayDataset<'u8'> {
  const split = opts.split ?? 'train';
  if (split !== 'train' && split !== 'test') throw new Error(`fashionMnist: split must be 'train' or 'test', got '${String(split)}'`);
  const s = loadFashionMnist(split, opts.dir);
  let n = s.count;
  if (opts.limit !== undefined) {
    if (!Number.isInteger(opts.limit) || opts.limit < 0) throw new Error(`fashionMnist: limit must be a non-negative integer, got ${opts.limit}`);
    n = Math.min(n, opts.limit);
  }
  const size = s.height * s.width;
  return new ArrayDataset(s.images.subarray(0, n * size), [1, s.height, s.width], s.labels.subarray(0, n), {
    classes: FASHION_MNIST_CLASSES, name: `fashion-mnist ${split}`,
  });
}
