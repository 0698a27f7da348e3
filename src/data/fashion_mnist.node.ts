/**
 * Node-only: Fashion-MNIST from its gzip-compressed IDX files, as Debian's `dataset-fashion-mnist`
 * installs them (`/usr/share/datasets/fashion-mnist/`) or in a directory the user names.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
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

/** Loads the 'train' (60,000) or 'test' (10,000) split. */
export function loadFashionMnist(split: 'train' | 'test', dir: string = process.env.WEBGRAD_FASHION_MNIST ?? FASHION_MNIST_DIR): ImageSplit {
  const stem = split === 'train' ? 'train' : 't10k';
  return imageSplit(
    readIdxGz(path.join(dir, `${stem}-images-idx3-ubyte.gz`)),
    readIdxGz(path.join(dir, `${stem}-labels-idx1-ubyte.gz`)),
    `fashion-mnist ${split}`,
  );
}
