// The data loader: deterministic per seed (same seed -> same order and identical batches; other
// seeds and epochs differ), last-batch policies, GPU normalisation against a float64 reference
// (u8 and f32 datasets, packed output), tensor ownership, captions, the overlap of preparing batch
// k + 1 with the consumer's work on batch k (from the loader's own timings), and Fashion-MNIST
// throughput (skips without the Debian files; fails with CI=true).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ArrayDataset } from '../../src/data/dataset.js';
import { FASHION_MNIST_DIR, fashionMnist } from '../../src/data/fashion_mnist.node.js';
import { DataLoader, type Batch } from '../../src/data/loader.js';
import { imagesToFloat, uploadPacked } from '../../src/kernels/data.js';
import { Generator } from '../../src/random.js';
import { randpermHost } from '../../src/random_host.js';
import { matmul, reshape } from '../../src/index.js';
import { tensor } from '../../src/creation.js';
import { sync } from '../../src/runtime.js';
import { gpu } from '../helpers/gpu.js';
import { expectClose, printReport } from '../helpers/compare.js';

const rt = await gpu();
const have = fs.existsSync(path.join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz'));
if (!have && process.env.CI === 'true') throw new Error('CI=true and no Fashion-MNIST: run `bash scripts/setup.sh`');
if (!have) console.warn(`skipping the Fashion-MNIST loader test: ${FASHION_MNIST_DIR} is absent (Debian package dataset-fashion-mnist)`);

const SHAPE = [3, 4, 5] as const; // 60 bytes per image: a batch's bytes straddle words
const N = 50;
const bytes = Uint8Array.from({ length: N * 60 }, (_, i) => (i * 2654435761) >>> 24);
const labels = Int32Array.from({ length: N }, (_, i) => (i * 7) % 10);
const toy = () => new ArrayDataset(bytes, SHAPE, labels, { captions: Array.from({ length: N }, (_, i) => `image ${i}`) });

interface Got { indices: number[]; labels: number[]; images: number[]; index: number; shape: readonly number[] }
async function collect(it: AsyncIterable<Batch>): Promise<Got[]> {
  const out: Got[] = [];
  for await (const b of it) {
    out.push({
      indices: Array.from(b.indices), labels: Array.from(await b.labels.data()), images: Array.from(await b.images.data()),
      index: b.index, shape: b.images.shape,
    });
  }
  return out;
}

describe.skipIf(!rt)('DataLoader', () => {
  it('is deterministic per seed; epochs and seeds differ; orders are randpermHost at the epoch offset', async () => {
    const a = await collect(new DataLoader(toy(), { batchSize: 8, seed: 5 }).epoch(0));
    const b = await collect(new DataLoader(toy(), { batchSize: 8, seed: 5 }).epoch(0));
    expect(b).toEqual(a);
    const order = a.flatMap((x) => x.indices);
    expect([...order].sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(order).toEqual(Array.from(randpermHost(N, new Generator(5))));
    const l = new DataLoader(toy(), { batchSize: 8, seed: 5 });
    expect(Array.from(l.order(3))).toEqual(Array.from(randpermHost(N, new Generator().setState({ seed: 5n, offset: 3n * 52n }))));
    expect(Array.from(l.order(1))).not.toEqual(order);
    // Epochs are pure functions of (seed, e): asking in another order changes nothing.
    const e1 = Array.from(l.order(1));
    l.order(7);
    expect(Array.from(l.order(1))).toEqual(e1);
    const c = await collect(new DataLoader(toy(), { batchSize: 8, seed: 6 }).epoch(0));
    expect(c.flatMap((x) => x.indices)).not.toEqual(order);
    // With a generator, epochs draw in sequence: two equal generators replay the same run.
    const g1 = new DataLoader(toy(), { batchSize: 8, generator: new Generator(9) });
    const g2 = new DataLoader(toy(), { batchSize: 8, generator: new Generator(9) });
    const run1 = [Array.from(g1.order(0)), Array.from(g1.order(1))];
    expect([Array.from(g2.order(0)), Array.from(g2.order(1))]).toEqual(run1);
    expect(run1[1]).not.toEqual(run1[0]);
    expect(Array.from(new DataLoader(toy(), { batchSize: 8, shuffle: false }).order(4))).toEqual(Array.from({ length: N }, (_, i) => i));
  });

  it('keeps or drops the last batch', async () => {
    const keep = await collect(new DataLoader(toy(), { batchSize: 8, seed: 1 }).epoch(0));
    expect(keep.map((b) => b.shape[0])).toEqual([8, 8, 8, 8, 8, 8, 2]);
    expect(keep.map((b) => b.index)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const drop = new DataLoader(toy(), { batchSize: 8, seed: 1, lastBatch: 'drop' });
    expect(drop.length).toBe(6);
    const d = await collect(drop.epoch(0));
    expect(d.map((b) => b.shape[0])).toEqual([8, 8, 8, 8, 8, 8]);
    expect(d.flatMap((b) => b.indices)).toEqual(keep.flatMap((b) => b.indices).slice(0, 48));
    expect(await collect(new DataLoader(toy(), { batchSize: 64, lastBatch: 'drop' }).epoch(0))).toEqual([]);
    const one = await collect(new DataLoader(toy(), { batchSize: 64 }).epoch(0));
    expect(one.map((b) => b.shape)).toEqual([[50, 3, 4, 5]]);
  });

  it('normalises on the GPU like the float64 reference (u8, f32, packed output)', async () => {
    const mean = [0.5, 0.25, 0.125];
    const std = [0.2, 0.3, 0.7];
    const batches = await collect(new DataLoader(toy(), { batchSize: 16, seed: 2, mean, std }).epoch(0));
    for (const b of batches) {
      const want: number[] = [];
      b.indices.forEach((i) => {
        for (let j = 0; j < 60; j++) want.push((bytes[i * 60 + j] / 255 - mean[Math.floor(j / 20)]) / std[Math.floor(j / 20)]);
      });
      expectClose('loader u8', b.images, want, { atol: 1e-6, rtol: 1e-6 });
      expect(b.labels).toEqual(b.indices.map((i) => labels[i]));
    }
    // Default: plain / 255.
    const plain = await collect(new DataLoader(toy(), { batchSize: 50, shuffle: false }).epoch(0));
    expectClose('loader /255', plain[0].images, Array.from(bytes, (v) => v / 255), { atol: 1e-7, rtol: 1e-7 });
    // f32 datasets: (x - mean) / std, no / 255.
    const fx = Float32Array.from({ length: 6 * 2 * 3 * 3 }, (_, i) => Math.sin(i) * 3);
    const fds = new ArrayDataset(fx, [2, 3, 3], null);
    const f = await collect(new DataLoader(fds, { batchSize: 4, shuffle: false, mean: [1, -1], std: 2 }).epoch(0));
    expectClose('loader f32', f.flatMap((b) => b.images), Array.from(fx, (v, i) => (v - (Math.floor(i / 9) % 2 === 0 ? 1 : -1)) / 2), { atol: 1e-6, rtol: 1e-6 });
    expect(f[0].labels).toEqual([-1, -1, -1, -1]);
    // Packed output: the batch's bytes, four per u32 word, little-endian.
    const p = await collect(new DataLoader(toy(), { batchSize: 3, shuffle: false, output: 'packed' }).epoch(0));
    const words = new Uint32Array(Uint8Array.from(bytes.subarray(0, 180)).buffer);
    expect(p[0].images.map((w) => w >>> 0)).toEqual(Array.from(words));
    // The kernel alone, on a ragged byte count (7 bytes: the last word is partial).
    const t = uploadPacked(Uint8Array.from([1, 2, 3, 4, 5, 6, 255]));
    const x = imagesToFloat(t, [1, 1, 1, 7], { mean: 0.5, std: 0.25 });
    expectClose('imagesToFloat', await x.data(), [1, 2, 3, 4, 5, 6, 255].map((v) => (v / 255 - 0.5) / 0.25));
    t.dispose();
    x.dispose();
    expect(() => imagesToFloat(tensor([1, 2, 3]), [1, 1, 1, 4])).toThrow('imagesToFloat: f32 input [3] does not hold [1,1,1,4] as a contiguous 4 values');
    expect(() => new DataLoader(toy(), { batchSize: 4, mean: [1, 2] })).toThrow('DataLoader: mean has 2 values for 3 channels');
    expect(() => new DataLoader(toy(), { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
    expect(() => new DataLoader(fds, { batchSize: 2, output: 'packed' })).toThrow(/output 'packed' needs a u8 dataset/);
  });

  it('owns and disposes batches by default, including on break; caller ownership leaves them alive; captions pass through', async () => {
    const l = new DataLoader(toy(), { batchSize: 8 });
    const seen: Batch[] = [];
    for await (const b of l.epoch(0)) {
      if (seen.length > 0) expect(seen[seen.length - 1].images.disposed).toBe(true);
      expect(b.captions).toEqual(Array.from(b.indices, (i) => `image ${i}`));
      seen.push(b);
      if (seen.length === 3) break;
    }
    expect(seen.every((b) => b.images.disposed && b.labels.disposed)).toBe(true);
    expect(l.timings.length).toBe(3);
    const mine: Batch[] = [];
    for await (const b of new DataLoader(toy(), { batchSize: 8, own: 'caller' }).epoch(0)) mine.push(b);
    expect(mine.some((b) => b.images.disposed)).toBe(false);
    for (const b of mine) {
      b.images.dispose();
      b.labels.dispose();
    }
  });

  it('reports a failing gather from the loop and disposes what it prepared', async () => {
    class Flaky extends ArrayDataset<'u8'> {
      calls = 0;
      override gather(indices: ArrayLike<number>, out: Uint8Array): void {
        if (++this.calls === 3) throw new Error('flaky: cannot read image 7.png');
        super.gather(indices, out);
      }
    }
    const ds = new Flaky(bytes, SHAPE, labels);
    const seen: Batch[] = [];
    await expect((async () => {
      for await (const b of new DataLoader(ds, { batchSize: 8 }).epoch(0)) seen.push(b);
    })()).rejects.toThrow('flaky: cannot read image 7.png');
    expect(seen.length).toBe(2);
    expect(seen.every((b) => b.images.disposed && b.labels.disposed)).toBe(true);
  });

  it('prepares batch k + 1 while the consumer works on batch k (loader timings)', async () => {
    // 384 images of [3, 64, 64] in batches of 64: 6 batches of 786 KB to gather and upload.
    const ds = new ArrayDataset(Uint8Array.from({ length: 384 * 3 * 64 * 64 }, (_, i) => i % 253), [3, 64, 64], null);
    const w = tensor(new Float32Array(12288 * 32).fill(0.001), { shape: [12288, 32] });
    const step = async (b: Batch) => {
      // Model-like GPU work on the batch, then a readback (the consumer waits for the GPU).
      const x = reshape(b.images, [b.images.shape[0], 12288]);
      const y = matmul(x, w);
      await y.data();
      x.dispose();
      y.dispose();
    };
    const on = new DataLoader(ds, { batchSize: 64, seed: 3 });
    for await (const b of on.epoch(0)) await step(b);
    const t = on.timings;
    expect(t.length).toBe(6);
    for (let k = 0; k + 1 < t.length; k++) {
      // Batch k + 1 was fully prepared before the consumer released batch k...
      expect(t[k + 1].prepareStart, `batch ${k + 1} started`).toBeGreaterThan(t[k].yieldedAt);
      expect(t[k + 1].prepareEnd, `batch ${k + 1} ready`).toBeLessThan(t[k].releasedAt);
      // ...so asking for it did not wait for preparation.
      expect(t[k + 1].waitMs).toBeLessThan(t[k + 1].prepareMs + 1);
    }
    const off = new DataLoader(ds, { batchSize: 64, seed: 3, prefetch: false });
    for await (const b of off.epoch(0)) await step(b);
    for (let k = 0; k + 1 < off.timings.length; k++) {
      expect(off.timings[k + 1].prepareStart).toBeGreaterThanOrEqual(off.timings[k].releasedAt);
    }
    const s = on.summary();
    const so = off.summary();
    console.log(`overlap: prefetch on: host prepare ${s.prepareMs.toFixed(1)} ms, next() waited ${s.waitMs.toFixed(1)} ms over ${s.batches} batches; ` +
      `prefetch off: prepare ${so.prepareMs.toFixed(1)} ms, waited ${so.waitMs.toFixed(1)} ms`);
    // Waiting after the first batch: prepared ahead (on) vs prepared on demand (off).
    const later = (ts: typeof t) => ts.slice(1).reduce((a, x) => a + x.waitMs, 0);
    console.log(`waits after batch 0: prefetch on ${later(t).toFixed(2)} ms, off ${later(off.timings).toFixed(2)} ms`);
    expect(later(t)).toBeLessThan(later(off.timings));
    w.dispose();
  });
});

describe.skipIf(!rt || !have)('DataLoader on Fashion-MNIST', () => {
  it('streams the test split in 256-image batches, deterministic and normalised', async () => {
    const ds = fashionMnist({ split: 'test' });
    const mean = 0.286;
    const std = 0.353;
    const loader = new DataLoader(ds, { batchSize: 256, seed: 11, mean: [mean], std: [std] });
    expect(loader.length).toBe(40);
    const t0 = performance.now();
    let first: { idx: number[]; x: number[] } | null = null;
    let count = 0;
    for await (const b of loader.epoch(0)) {
      count += b.images.shape[0];
      if (!first) first = { idx: Array.from(b.indices), x: Array.from(await b.images.data()) };
    }
    await sync();
    const secs = (performance.now() - t0) / 1000;
    expect(count).toBe(10_000);
    const want: number[] = [];
    for (const i of first!.idx) for (const v of ds.image(i)) want.push((v / 255 - mean) / std);
    expectClose('fashion-mnist batch', first!.x, want, { atol: 1e-5, rtol: 1e-6 });
    const again = await collect((async function* () {
      for await (const b of new DataLoader(ds, { batchSize: 256, seed: 11 }).epoch(0)) { yield b; break; }
    })());
    expect(again[0].indices).toEqual(first!.idx);
    const s = loader.summary();
    console.log(`fashion-mnist test split, 256-image batches: ${(40 / secs).toFixed(1)} batches/s (${(10_000 / secs).toFixed(0)} images/s), ` +
      `host prepare ${(s.prepareMs / 40).toFixed(2)} ms/batch, wait ${(s.waitMs / 40).toFixed(2)} ms/batch`);
  });
});

afterAll(() => printReport('loader'));
