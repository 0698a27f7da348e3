// IDX decoding and the Fashion-MNIST files (Debian's dataset-fashion-mnist; with CI=true they must exist).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseIdx } from '../../src/data/idx.js';
import { FASHION_MNIST_DIR, loadFashionMnist } from '../../src/data/fashion_mnist.node.js';

const idx = (type: number, dims: number[], data: number[]) => {
  const b = new Uint8Array(4 + 4 * dims.length + data.length);
  b.set([0, 0, type, dims.length]);
  const dv = new DataView(b.buffer);
  dims.forEach((d, i) => dv.setUint32(4 + 4 * i, d, false));
  b.set(data, 4 + 4 * dims.length);
  return b;
};

const have = fs.existsSync(`${FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`);
if (!have && process.env.CI === 'true') throw new Error('CI=true and no Fashion-MNIST: run `bash scripts/setup.sh`');

describe('IDX', () => {
  it('decodes unsigned-byte files and rejects malformed ones', () => {
    const x = parseIdx(idx(8, [2, 3], [1, 2, 3, 4, 5, 6]));
    expect(x.shape).toEqual([2, 3]);
    expect(Array.from(x.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => parseIdx(new Uint8Array(2), 'f')).toThrow('f: 2 bytes is too short');
    expect(() => parseIdx(idx(8, [2, 3], [1, 2]), 'f')).toThrow('f: IDX shape [2,3] needs 18 bytes, the file has 14');
    expect(() => parseIdx(idx(0x0d, [1], [0, 0, 0, 0]), 'f')).toThrow(/element type 0xd is not supported/);
    expect(() => parseIdx(new Uint8Array([1, 2, 8, 1]), 'f')).toThrow(/not an IDX file/);
  });
});

describe.skipIf(!have)('Fashion-MNIST', () => {
  it('loads both splits with matching labels and balanced classes', () => {
    const test = loadFashionMnist('test');
    expect([test.count, test.height, test.width]).toEqual([10_000, 28, 28]);
    const counts = new Array(10).fill(0);
    for (const l of test.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(1000));
    const train = loadFashionMnist('train');
    expect(train.count).toBe(60_000);
    expect(train.images.length).toBe(60_000 * 784);
    expect(() => loadFashionMnist('test', '/nonexistent')).toThrow(/not found; install Debian's dataset-fashion-mnist/);
  });
});
