// models/eval.ts: per-row top-k (shaders/knn.wgsl) and the weighted kNN vote against float64
// references (ties included), the collapse figure, BatchNorm re-estimation against a float64
// cumulative average, feature extraction, the linear probe, and one quick Fashion-MNIST run of an
// untrained small conv net (skipped when the dataset files are absent).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { ArrayDataset } from '../../src/data/dataset.js';
import { topkRows } from '../../src/kernels/knn.js';
import { gpu } from '../helpers/gpu.js';
import { expectNoLeak } from '../helpers/leak.js';
import { integers, rng, uniform } from '../helpers/rand.js';
import { conv2dRef } from '../reference/conv2d.js';
import { collapseRef, cumulativeBnRef, knnRef, topkRef } from '../reference/eval.js';

const rt = await gpu();

/** n x d standard normal values (Box-Muller on the seeded stream). */
function gaussian(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return out;
}

/** Points around `classes` well-separated centres: features [n, d] and labels [n]. */
function clusters(n: number, d: number, classes: number, seed: number, noise = 0.3): { x: Float32Array; y: Int32Array } {
  const centres = gaussian(classes * d, seed).map((v) => v * 3);
  const y = integers(n, seed + 1, 0, classes);
  const e = gaussian(n * d, seed + 2);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = centres[y[i] * d + j] + noise * e[i * d + j];
  return { x, y };
}

const f32 = (x: Float32Array, shape: number[]) => wg.tensor(x, { shape });
const i32 = (y: Int32Array) => wg.tensor(y, { dtype: 'i32' });

describe.skipIf(!rt)('topkRows (shaders/knn.wgsl)', () => {
  it('matches a stable descending sort, ties by lower index, on offset and transposed blocks', async () => {
    const rows = 37;
    const n = 301;
    // Values on a coarse grid: many exact ties within each row.
    const vals = Float32Array.from(uniform((rows + 5) * n, 11), (v) => Math.round(v * 8) / 8);
    const all = f32(vals, [rows + 5, n]);
    const block = wg.slice(all, 0, 3, 3 + rows); // offset rows
    for (const k of [1, 7, 20, 200, 301]) {
      const { values, indices } = topkRows(block, k);
      const ref = topkRef(vals.subarray(3 * n), rows, n, k);
      expect([...values.shape]).toEqual([rows, k]);
      expect(Array.from(await indices.data()), `indices k=${k}`).toEqual(Array.from(ref.indices));
      expect(Array.from(await values.data()), `values k=${k}`).toEqual(Array.from(ref.values));
      values.dispose();
      indices.dispose();
    }
    // Any strides: the same block read through a transposed copy.
    const t = wg.contiguous(wg.transpose(block, 0, 1)); // [n, rows]
    const tv = wg.transpose(t, 0, 1); // [rows, n] with strides [1, rows]
    const viaT = topkRows(tv, 20);
    expect(Array.from(await viaT.indices.data())).toEqual(Array.from(topkRef(vals.subarray(3 * n), rows, n, 20).indices));
    for (const x of [t, tv, viaT.values, viaT.indices]) x.dispose();
    expect(() => topkRows(block, 302)).toThrow(/topkRows: k must be .* got k=302 for x \[37, ?301\]/);
    block.dispose();
    all.dispose();
  });

  it('ranks NaN below every number', async () => {
    const x = f32(Float32Array.from([NaN, 1, -5, NaN, 3]), [1, 5]);
    const { values, indices } = topkRows(x, 4);
    expect(Array.from(await indices.data())).toEqual([4, 1, 2, 0]);
    expect(Array.from(await values.data()).slice(0, 3)).toEqual([3, 1, -5]);
    for (const t of [x, values, indices]) t.dispose();
  });
});

describe.skipIf(!rt)('kNN monitor', () => {
  it('predictions equal the float64 reference (odd sizes, chunked)', async () => {
    const [n, m, d, classes] = [301, 53, 13, 5];
    const train = gaussian(n * d, 21);
    const test = gaussian(m * d, 22);
    const yTrain = integers(n, 23, 0, classes);
    const ks = [1, 7, 20, 200];
    const tf = f32(train, [n, d]);
    const ty = i32(yTrain);
    const qf = f32(test, [m, d]);
    for (const chunk of [16, 256]) {
      const preds = wg.knnPredict(tf, ty, qf, { k: ks, temperature: 0.1, numClasses: classes, chunk });
      expect([...preds.shape]).toEqual([m, ks.length]);
      expect(Array.from(await preds.data()), `chunk ${chunk}`).toEqual(Array.from(knnRef(train, yTrain, test, d, ks, 0.1, classes)));
      preds.dispose();
    }
    // τ changes the weights, and so some votes.
    const preds = wg.knnPredict(tf, ty, qf, { k: [200], temperature: 0.5, numClasses: classes });
    expect(Array.from(await preds.data())).toEqual(Array.from(knnRef(train, yTrain, test, d, [200], 0.5, classes)));
    for (const t of [preds, tf, ty, qf]) t.dispose();
  });

  it('ties are deterministic: the lower train index, then the lower class', async () => {
    // Train rows 0 and 1 are identical (labels 3 and 1), row 2 points elsewhere (label 2).
    const train = f32(Float32Array.from([1, 0, 1, 0, 0, 1]), [3, 2]);
    const labels = i32(Int32Array.from([3, 1, 2]));
    const test = f32(Float32Array.from([2, 0]), [1, 2]);
    const preds = wg.knnPredict(train, labels, test, { k: [1, 2], numClasses: 4 });
    // k=1: rows 0 and 1 tie at s=1, row 0 (label 3) ranks first. k=2: classes 1 and 3 tie, 1 wins.
    expect(Array.from(await preds.data())).toEqual([3, 1]);
    for (const t of [preds, train, labels, test]) t.dispose();
  });

  it('separable clusters give ~100%, random labels ~chance', async () => {
    const classes = 4;
    const all = clusters(800, 16, classes, 31);
    const tf = f32(all.x.subarray(0, 600 * 16), [600, 16]);
    const qf = f32(all.x.subarray(600 * 16), [200, 16]);
    const ty = i32(all.y.subarray(0, 600));
    const qy = i32(all.y.subarray(600));
    const acc = await wg.knnAccuracy(tf, ty, qf, qy, { numClasses: classes });
    expect(acc[20]).toBeGreaterThanOrEqual(0.99);
    expect(acc[200]).toBeGreaterThanOrEqual(0.99);
    // Random labels: nothing to find.
    const ry = i32(integers(600, 32, 0, classes));
    const rq = i32(integers(200, 33, 0, classes));
    const chance = await wg.knnAccuracy(tf, ry, qf, rq, { k: [20] });
    expect(Math.abs(chance[20] - 1 / classes)).toBeLessThan(0.1);
    for (const t of [tf, qf, ty, qy, ry, rq]) t.dispose();
  });

  it('errors name the shapes', () => {
    const a = wg.zeros([10, 4]);
    const b = wg.zeros([3, 5]);
    const y = wg.zeros([10], 'i32');
    expect(() => wg.knnPredict(a, y, b, { numClasses: 2 })).toThrow(/knnPredict: test features must be f32 \[M, 4\], got f32 \[3, ?5\]/);
    expect(() => wg.knnPredict(a, y, a, { numClasses: 2 })).toThrow(/each k must be .*train size 10/);
    for (const t of [a, b, y]) t.dispose();
  });
});

describe.skipIf(!rt)('collapse figure', () => {
  it('Gaussian ~ 1/sqrt(d), identical rows 0, and the float64 reference', async () => {
    const d = 64;
    const z = f32(gaussian(1024 * d, 41), [1024, d]);
    expect(Math.abs((await wg.collapseFigure(z)) * Math.sqrt(d) - 1)).toBeLessThan(0.03);
    const row = gaussian(d, 42);
    const same = f32(Float32Array.from({ length: 16 * d }, (_, i) => row[i % d]), [16, d]);
    expect(await wg.collapseFigure(same)).toBeLessThan(1e-6);
    const small = uniform(7 * 5, 43);
    const s = f32(small, [7, 5]);
    expect(await wg.collapseFigure(s)).toBeCloseTo(collapseRef(small, 7, 5), 5);
    for (const t of [z, same, s]) t.dispose();
    const one = wg.zeros([1, 4]);
    await expect(wg.collapseFigure(one)).rejects.toThrow(/collapseFigure: .*B >= 2.*\[1, ?4\]/);
    one.dispose();
  });
});

describe.skipIf(!rt)('BatchNorm re-estimation and feature extraction', () => {
  const [C, H, W] = [2, 5, 5];
  const images = uniform(50 * C * H * W, 51, 0, 2);
  const labels = integers(50, 52, 0, 3);
  const ds = new ArrayDataset(images, [C, H, W], labels);

  it('equals the float64 cumulative average of the batch statistics (conv + BN2d)', async () => {
    const conv = new wg.Conv2d(C, 3, 3, { padding: 1, generator: new wg.Generator(5) });
    const bn = new wg.BatchNorm2d(3);
    const model = new wg.Sequential(conv, bn, new wg.ReLU(), new wg.AdaptiveAvgPool2d(1), new wg.Flatten());
    model.eval();
    // Dirty statistics first (momentum 0.1 updates), which the re-estimation must reset.
    model.train();
    wg.noGrad(() => wg.scope(() => void model.forward(wg.randn([4, C, H, W]))));
    model.eval();
    const used = await wg.reestimateBatchNorm(model, ds, { images: 37, batchSize: 10 });
    expect(used).toBe(37);
    // Reference: conv outputs of the batches 10, 10, 10, 7 (first 37 images in order).
    const w = { data: Float64Array.from(await conv.weight.data()), shape: [...conv.weight.shape] };
    const b = { data: Float64Array.from(await conv.bias!.data()), shape: [3] };
    const batches = [[0, 10], [10, 20], [20, 30], [30, 37]].map(([s, e]) =>
      conv2dRef({ data: Float64Array.from(images.subarray(s * C * H * W, e * C * H * W)), shape: [e - s, C, H, W] }, w, { padding: 1 }, b));
    const ref = cumulativeBnRef(batches);
    const got = { mean: await bn.runningMean!.data(), var: await bn.runningVar!.data() };
    for (let c = 0; c < 3; c++) {
      expect(got.mean[c]).toBeCloseTo(ref.mean[c], 5);
      expect(Math.abs(got.var[c] - ref.var[c])).toBeLessThan(1e-5 * Math.max(1, ref.var[c]));
    }
    expect(await bn.numBatchesTracked!.item()).toBe(4);
    expect(bn.momentum).toBe(0.1); // restored
    expect(model.namedModules().every(([, m]) => !m.training)).toBe(true); // modes restored
    // A BN the forward never reaches keeps its statistics (here: only the conv runs).
    const kept = [await bn.runningMean!.data(), await bn.runningVar!.data()];
    expect(await wg.reestimateBatchNorm(model, ds, { images: 20, batchSize: 10, embed: (x) => conv.forward(x) })).toBe(20);
    expect([await bn.runningMean!.data(), await bn.runningVar!.data()]).toEqual(kept);
    expect(await bn.numBatchesTracked!.item()).toBe(4);
    model.dispose();
  });

  it('extractFeatures: eval mode, in order, any batch size, labels, limit', async () => {
    const model = new wg.Sequential(new wg.Conv2d(C, 4, 3, { generator: new wg.Generator(6) }), new wg.BatchNorm2d(4), new wg.ReLU());
    model.train(); // extraction must switch to eval and back
    const a = await wg.extractFeatures(model, ds, { batchSize: 16 }); // [B, 4, 3, 3] pooled to [B, 4]
    const b = await wg.extractFeatures(model, ds, { batchSize: 7, limit: 20 });
    expect([...a.features.shape]).toEqual([50, 4]);
    expect([...b.features.shape]).toEqual([20, 4]);
    expect(Array.from(await a.labels.data())).toEqual(Array.from(labels));
    const fa = await a.features.data();
    const fb = await b.features.data();
    for (let i = 0; i < fb.length; i++) expect(fb[i]).toBeCloseTo(fa[i], 5);
    // Direct eval-mode forward of images 0..4, pooled.
    model.eval();
    const direct = wg.noGrad(() => wg.scope(() => wg.mean(model.forward(f32(images.slice(0, 5 * C * H * W), [5, C, H, W])), [2, 3])));
    const dd = await direct.data();
    for (let i = 0; i < dd.length; i++) expect(fa[i]).toBeCloseTo(dd[i], 5);
    expect(model.training).toBe(false);
    model.train();
    const c = await wg.extractFeatures(model, ds, { limit: 3 });
    expect(model.namedModules().every(([, m]) => m.training)).toBe(true);
    // A loader source: its epoch-0 order (seeded shuffle), limited to 20 images.
    const loader = new wg.DataLoader(ds, { batchSize: 8, seed: 3 });
    const order = loader.order(0);
    model.eval();
    const l = await wg.extractFeatures(model, loader, { limit: 20 });
    expect(Array.from(await l.labels.data())).toEqual(Array.from(order.slice(0, 20), (i) => labels[i]));
    const fl = await l.features.data();
    for (let r = 0; r < 20; r++) for (let j = 0; j < 4; j++) expect(fl[r * 4 + j]).toBeCloseTo(fa[order[r] * 4 + j], 5);
    for (const t of [a.features, a.labels, b.features, b.labels, c.features, c.labels, l.features, l.labels, direct]) t.dispose();
    model.dispose();
  });

  it('evaluateBackbone leaves no GPU buffer behind and restores the buffers', async () => {
    const model = new wg.Sequential(new wg.Conv2d(C, 4, 3, { generator: new wg.Generator(8) }), new wg.BatchNorm2d(4), new wg.ReLU());
    const before = await model.namedBuffers()[0][1].data();
    const run = async () => {
      const r = await wg.evaluateBackbone(model, { train: ds, test: ds, testLimit: 20, bnImages: 30, batchSize: 10, numClasses: 3, knn: { k: [5, 20] }, probe: { epochs: 1, batchSize: 16 } });
      expect(Object.keys(r.knn)).toEqual(['5', '20']);
      expect(r).toMatchObject({ featureDim: 4, trainCount: 50, testCount: 20, bnImages: 30 });
    };
    await expectNoLeak(run, { warmup: 1, steps: 2 });
    expect(Array.from(await model.namedBuffers()[0][1].data())).toEqual(Array.from(before));
    model.dispose();
  });
});

describe.skipIf(!rt)('linear probe', () => {
  it('separable features: high accuracy, deterministic per seed', async () => {
    const classes = 3;
    const all = clusters(700, 10, classes, 61, 1.0);
    const tf = f32(all.x.subarray(0, 500 * 10), [500, 10]);
    const qf = f32(all.x.subarray(500 * 10), [200, 10]);
    const ty = i32(all.y.subarray(0, 500));
    const qy = i32(all.y.subarray(500));
    const opts = { epochs: 8, batchSize: 64, seed: 3 };
    const r1 = await wg.linearProbe(tf, ty, qf, qy, opts);
    const r2 = await wg.linearProbe(tf, ty, qf, qy, opts);
    expect(r1.accuracy).toBeGreaterThanOrEqual(0.97);
    expect(r1.trainAccuracy).toBeGreaterThanOrEqual(0.97);
    expect(r1.losses.length).toBe(8);
    expect(r1.losses[7]).toBeLessThan(r1.losses[0]);
    expect(r2).toEqual(r1);
    const r3 = await wg.linearProbe(tf, ty, qf, qy, { ...opts, seed: 4 });
    expect(r3.losses).not.toEqual(r1.losses);
    for (const t of [tf, qf, ty, qy]) t.dispose();
  });
});

const FMNIST = process.env.WEBGRAD_FASHION_MNIST ?? wg.FASHION_MNIST_DIR;
const haveFashion = fs.existsSync(path.join(FMNIST, 'train-images-idx3-ubyte.gz')) && fs.existsSync(path.join(FMNIST, 't10k-images-idx3-ubyte.gz'));

describe.skipIf(!rt || !haveFashion)('Fashion-MNIST quick run (untrained conv net)', () => {
  it('kNN k=20/200 and linear probe on 2,000 train / 1,000 test images', async () => {
    wg.manualSeed(0);
    const g = new wg.Generator(7);
    const net = new wg.Sequential(
      new wg.Conv2d(1, 16, 3, { padding: 1, generator: g }), new wg.BatchNorm2d(16), new wg.ReLU(), new wg.MaxPool2d(2),
      new wg.Conv2d(16, 32, 3, { padding: 1, generator: g }), new wg.BatchNorm2d(32), new wg.ReLU(),
      new wg.AdaptiveAvgPool2d(1), new wg.Flatten(),
    );
    const t0 = performance.now();
    const r = await wg.evaluateBackbone(net, {
      train: wg.fashionMnist({ split: 'train', limit: 2000 }),
      test: wg.fashionMnist({ split: 'test', limit: 1000 }),
      mean: wg.FASHION_MNIST_MEAN, std: wg.FASHION_MNIST_STD,
      numClasses: 10, probe: { epochs: 10 },
    });
    const s = ((performance.now() - t0) / 1000).toFixed(1);
    console.log(`Fashion-MNIST, untrained conv net (${r.featureDim}-d pooled, BN on ${r.bnImages} images), ${r.trainCount} train / ${r.testCount} test: ` +
      `kNN k=20 ${(100 * r.knn[20]).toFixed(1)}%, k=200 ${(100 * r.knn[200]).toFixed(1)}%, linear probe ${(100 * r.linearProbe!).toFixed(1)}% (${s} s)`);
    expect(r.bnImages).toBe(1000);
    expect(r.knn[20]).toBeGreaterThan(0.5);
    expect(r.knn[200]).toBeGreaterThan(0.4);
    expect(r.linearProbe!).toBeGreaterThan(0.5);
    // The model's own buffers are restored.
    const bn = net.at(1) as wg.BatchNorm2d;
    expect(Array.from(await bn.runningMean!.data())).toEqual(new Array(16).fill(0));
    net.dispose();
  });
});
