// Datasets: in-memory arrays, subsets, Fashion-MNIST as a Dataset (skips without the Debian files,
// fails with CI=true), and ImageFolder on a fixture written with sharp into a temp dir (class
// order, torchvision's walk order, channels, resize policies, captions, a corrupt file: the
// error names it, the skip policy counts it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ArrayDataset, datasetLabels, firstN, SubsetDataset } from '../../src/data/dataset.js';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, fashionMnist } from '../../src/data/fashion_mnist.node.js';
import { compareCodePoints, imageFolderFromFiles } from '../../src/data/image_folder.js';
import { loadImageFolder } from '../../src/data/image_folder.node.js';

const have = fs.existsSync(path.join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz'));
if (!have && process.env.CI === 'true') throw new Error('CI=true and no Fashion-MNIST: run `bash scripts/setup.sh`');
if (!have) console.warn(`skipping Fashion-MNIST dataset tests: ${FASHION_MNIST_DIR} is absent (Debian package dataset-fashion-mnist)`);

describe('ArrayDataset and subsets', () => {
  it('exposes images, labels, captions and gathers batches', () => {
    const px = Uint8Array.from({ length: 5 * 2 * 2 * 3 }, (_, i) => i % 251);
    const ds = new ArrayDataset(px, [2, 2, 3], [4, 3, 2, 1, 0], { captions: ['a', 'b', 'c', 'd', 'e'], classes: ['0', '1', '2', '3', '4'] });
    expect([ds.length, ds.dtype, ds.shape]).toEqual([5, 'u8', [2, 2, 3]]);
    expect(Array.from(ds.image(1))).toEqual(Array.from(px.subarray(12, 24)));
    const out = new Uint8Array(24);
    ds.gather([3, 0], out);
    expect(Array.from(out)).toEqual([...px.subarray(36, 48), ...px.subarray(0, 12)]);
    expect([ds.label(0), ds.caption(4)]).toEqual([4, 'e']);
    expect(Array.from(datasetLabels(ds))).toEqual([4, 3, 2, 1, 0]);
    const sub = new SubsetDataset(ds, [4, 2]);
    expect([sub.length, sub.label(0), sub.caption!(1)]).toEqual([2, 0, 'c']);
    expect(Array.from(sub.image(1))).toEqual(Array.from(ds.image(2)));
    expect(firstN(ds, 2).length).toBe(2);
    expect(firstN(ds, 9)).toBe(ds);
    const f = new ArrayDataset(new Float32Array(8), [1, 2, 2], null);
    expect([f.dtype, f.length, f.label(1)]).toEqual(['f32', 2, -1]);
  });

  it('rejects inconsistent arrays and bad indices with errors naming the shapes', () => {
    expect(() => new ArrayDataset(new Uint8Array(10), [1, 2, 3], null)).toThrow('ArrayDataset: 10 pixel values are not a whole number of [1,2,3] images (6 values each)');
    expect(() => new ArrayDataset(new Uint8Array(12), [1, 2, 3], [1])).toThrow('ArrayDataset: 1 labels for 2 images');
    expect(() => new ArrayDataset(new Uint8Array(12), [0, 2, 3], null)).toThrow(/image shape must be \[C, H, W\]/);
    const ds = new ArrayDataset(new Uint8Array(12), [1, 2, 3], null, { name: 'toy' });
    expect(() => ds.image(2)).toThrow('toy: index 2 is outside [0, 2)');
    expect(() => ds.gather([0, 1], new Uint8Array(6))).toThrow('toy.gather: out holds 6 values, 2 images need 12');
  });
});

describe.skipIf(!have)('Fashion-MNIST dataset', () => {
  it('loads a split as [1, 28, 28] uint8 images with class names, and a first-n subset', () => {
    const test = fashionMnist({ split: 'test' });
    expect([test.length, test.shape, test.dtype, test.classes]).toEqual([10_000, [1, 28, 28], 'u8', FASHION_MNIST_CLASSES]);
    const small = fashionMnist({ split: 'test', limit: 100 });
    expect(small.length).toBe(100);
    expect(Array.from(small.image(99))).toEqual(Array.from(test.image(99)));
    expect(small.label(42)).toBe(test.label(42));
    expect(() => fashionMnist({ split: 'test', dir: '/nonexistent' })).toThrow(/\/nonexistent\/t10k-images-idx3-ubyte.gz not found/);
    expect(() => fashionMnist({ split: 'test', limit: -1 })).toThrow(/limit must be a non-negative integer/);
  });
});

// ---- ImageFolder fixture ----
let root = '';
const rgb = (w: number, h: number, f: (x: number, y: number) => [number, number, number]) => {
  const b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) b.set(f(x, y), 3 * (y * w + x));
  return b;
};
const png = (file: string, raw: Buffer, w: number, h: number, channels: 1 | 3 | 4) =>
  sharp(raw, { raw: { width: w, height: h, channels } }).png().toFile(file);
/** A 4x3 pattern that differs per image (seeded by k): lossless in PNG. */
const pattern = (k: number) => rgb(4, 3, (x, y) => [(x * 40 + k * 7) % 256, (y * 70 + k * 13) % 256, (x * y * 9 + k) % 256]);

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'webgrad-imagefolder-'));
  // Classes: 'Zebra' sorts before 'cat' (code points); 'cat' has a nested folder, a .txt file and
  // upper-case extensions; 'dog' holds the corrupt file.
  for (const d of ['Zebra', 'cat', 'cat/sub', 'cat/sub_b', 'dog', 'empty_later']) fs.mkdirSync(path.join(root, 'same', d), { recursive: true });
  fs.rmdirSync(path.join(root, 'same', 'empty_later'));
  const s = (p: string) => path.join(root, 'same', p);
  let k = 0;
  for (const f of ['Zebra/z1.png', 'cat/b.PNG', 'cat/a.png', 'cat/sub/c.png', 'cat/sub_b/d.png', 'dog/x.png']) await png(s(f), pattern(k++), 4, 3, 3);
  fs.writeFileSync(s('cat/notes.txt'), 'not an image');
  fs.writeFileSync(s('dog/bad.png'), Buffer.from('\x89PNG\r\n\x1a\n this is not a png body'));
  // Mixed sizes and kinds, for the resize and channel policies.
  const m = (p: string) => path.join(root, 'mixed', p);
  for (const d of ['gray', 'rgba', 'wide']) fs.mkdirSync(m(d), { recursive: true });
  await png(m('gray/g.png'), Buffer.from(Array.from({ length: 6 * 6 }, (_, i) => (i * 7) % 256)), 6, 6, 1);
  const rgba = Buffer.alloc(5 * 5 * 4);
  for (let i = 0; i < 25; i++) rgba.set([200, 100, 50, i * 10], 4 * i);
  await png(m('rgba/r.png'), rgba, 5, 5, 4);
  // 8x4: red outer columns (x < 2 or x >= 6), blue centre 4x4.
  await png(m('wide/w.png'), rgb(8, 4, (x) => (x < 2 || x >= 6 ? [255, 0, 0] : [0, 0, 255])), 8, 4, 3);
  await sharp(rgb(4, 4, () => [10, 200, 30]), { raw: { width: 4, height: 4, channels: 3 } }).jpeg({ quality: 95 }).toFile(m('wide/flat.jpg'));
});
afterAll(() => {
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('ImageFolder (Node, sharp)', () => {
  it('orders classes and files as torchvision, and names a corrupt file in its error', async () => {
    const dir = path.join(root, 'same');
    await expect(loadImageFolder(dir)).rejects.toThrow(/ImageFolder: .*dog\/bad\.png: /);
  });

  it('skips the corrupt file under onError: skip, reports the count, and keeps exact pixels', async () => {
    const dir = path.join(root, 'same');
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const ds = await loadImageFolder(dir, { onError: 'skip', captions: { 'cat/a.png': 'a cat' } });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/skipped 1 unreadable image\(s\), first: .*dog\/bad\.png/);
    warn.mockRestore();
    expect(ds.skipped.length).toBe(1);
    expect(ds.skipped[0].path).toBe(path.join(dir, 'dog/bad.png'));
    expect(ds.classes).toEqual(['Zebra', 'cat', 'dog']);
    expect(ds.classToIdx).toEqual({ Zebra: 0, cat: 1, dog: 2 });
    // torchvision: sorted(os.walk) -> folder 'cat' (files a.png, b.PNG), then 'cat/sub', then 'cat/sub_b'.
    expect(ds.samples.map((s) => s.path)).toEqual(['Zebra/z1.png', 'cat/a.png', 'cat/b.PNG', 'cat/sub/c.png', 'cat/sub_b/d.png', 'dog/x.png']);
    expect(Array.from(datasetLabels(ds))).toEqual([0, 1, 1, 1, 1, 2]);
    expect([ds.shape, ds.dtype]).toEqual([[3, 3, 4], 'u8']);
    // Pixels are the written pattern, channel-major (a.png was written as pattern 2).
    const p = pattern(2);
    const want = new Uint8Array(36);
    for (let c = 0; c < 3; c++) for (let i = 0; i < 12; i++) want[c * 12 + i] = p[3 * i + c];
    expect(Array.from(ds.image(1))).toEqual(Array.from(want));
    expect([ds.caption(1), ds.caption(0)]).toEqual(['a cat', '']);
    // Luma as PIL's convert('L').
    const gray = await loadImageFolder(dir, { onError: 'skip', channels: 1, warn: false });
    expect(gray.shape).toEqual([1, 3, 4]);
    const l = Array.from({ length: 12 }, (_, i) => Math.floor((p[3 * i] * 299 + p[3 * i + 1] * 587 + p[3 * i + 2] * 114 + 500) / 1000));
    expect(Array.from(gray.image(1))).toEqual(l);
  });

  it('resizes to a fixed size (centre crop or stretch); converts gray and RGBA to RGB', async () => {
    const dir = path.join(root, 'mixed');
    await expect(loadImageFolder(dir)).rejects.toThrow(/ImageFolder: .*mixed\/rgba\/r\.png: 5x5 \(width x height\) differs from the first image's 6x6; pass `size` to resize/);
    const ds = await loadImageFolder(dir, { size: 4 });
    expect(ds.samples.map((s) => s.path)).toEqual(['gray/g.png', 'rgba/r.png', 'wide/flat.jpg', 'wide/w.png']);
    expect(ds.shape).toEqual([3, 4, 4]);
    const g = ds.image(0);
    expect(Array.from(g.subarray(0, 16))).toEqual(Array.from(g.subarray(16, 32))); // gray replicated
    expect(Array.from(g.subarray(16, 32))).toEqual(Array.from(g.subarray(32, 48)));
    const r = ds.image(1); // alpha dropped, colour kept (a constant image stays constant)
    expect([r[0], r[16], r[32], r[15], r[31], r[47]]).toEqual([200, 100, 50, 200, 100, 50]);
    const j = ds.image(2); // JPEG of a flat colour
    expect(Math.abs(j[5] - 10) + Math.abs(j[21] - 200) + Math.abs(j[37] - 30)).toBeLessThan(8);
    const w = ds.image(3); // 8x4 -> cover 4x4: scale 1, the blue centre only
    expect(Array.from(w.subarray(0, 16))).toEqual(new Array(16).fill(0));
    expect(Array.from(w.subarray(32, 48))).toEqual(new Array(16).fill(255));
    const st = await loadImageFolder(dir, { size: [4, 4], resize: 'stretch' });
    const s = st.image(3); // squeezed: the red columns survive at the edges
    expect(s[0]).toBeGreaterThan(100);
    expect(s[32]).toBeLessThan(160);
  });

  it('errors: missing folder, empty class, bad options', async () => {
    await expect(loadImageFolder(path.join(root, 'nope'))).rejects.toThrow(/ImageFolder: cannot read folder .*nope/);
    fs.mkdirSync(path.join(root, 'same', 'empty'), { recursive: true });
    try {
      await expect(loadImageFolder(path.join(root, 'same'), { onError: 'skip', warn: false })).rejects.toThrow(/no valid image file in class folder\(s\) empty/);
      const ds = await loadImageFolder(path.join(root, 'same'), { onError: 'skip', warn: false, allowEmpty: true });
      expect(ds.classes).toEqual(['Zebra', 'cat', 'dog', 'empty']);
    } finally {
      fs.rmdirSync(path.join(root, 'same', 'empty'));
    }
    await expect(loadImageFolder(root, { size: 0 })).rejects.toThrow(/size must be a positive integer/);
    await expect(loadImageFolder(path.join(root, 'mixed'), { channels: 2 as 1 })).rejects.toThrow(/channels must be 1 or 3/);
  });

  it('the browser loader groups files the same way (its decoder needs a browser)', async () => {
    const blob = new Blob([fs.readFileSync(path.join(root, 'same', 'cat', 'a.png'))]);
    const files = ['dog/x.png', 'cat/sub/c.png', 'cat/b.PNG', 'cat/a.png', 'Zebra/z1.png', 'top.png'].map((p) => ({ path: p, blob }));
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    // In Node every decode fails (no createImageBitmap): the error names the first file in order.
    await expect(imageFolderFromFiles(files)).rejects.toThrow('ImageFolder: Zebra/z1.png: decoding images needs createImageBitmap');
    warn.mockRestore();
    expect(['b', 'a', 'B', '_', 'é', '\u{1F600}', '\uFFFF'].sort(compareCodePoints)).toEqual(['B', '_', 'a', 'b', 'é', '\uFFFF', '\u{1F600}']);
  });
});
