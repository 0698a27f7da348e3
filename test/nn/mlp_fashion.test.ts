// Learning for real: an MLP trained on a Fashion-MNIST subset with a fixed seed reaches >= 80%
// on held-out images, and the loss falls. (The full run, examples/mlp_fashion_mnist.mjs, reaches >= 88%.)
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { gpu } from '../helpers/gpu.js';

const rt = await gpu();
const have = fs.existsSync(`${wg.FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`);
if (!have && process.env.CI === 'true') throw new Error('CI=true and no Fashion-MNIST: run `bash scripts/setup.sh`');

describe.skipIf(!rt || !have)('MLP on Fashion-MNIST (subset)', () => {
  it('reaches >= 80% on held-out images after 5 epochs on 6,000', async () => {
    const all = wg.loadFashionMnist('train');
    const train = wg.flattenImages(all, { from: 0, to: 6000 });
    const held = wg.flattenImages(all, { from: 50_000, to: 51_000 });
    wg.manualSeed(1);
    const model = new wg.MLP([train.dim, 256, 128, 10]);
    const opt = new wg.AdamW(model.parameters(), { lr: 2e-3, weightDecay: 1e-4 });
    const before = await wg.evaluateAccuracy(model, held);
    const losses = await wg.fitClassifier(model, train, opt, { epochs: 5, batchSize: 64, seed: 1 });
    const acc = await wg.evaluateAccuracy(model, held);
    console.log(`MLP subset: loss per epoch ${losses.map((l) => l.toFixed(3)).join(' ')}; held-out accuracy ${(100 * before).toFixed(1)}% -> ${(100 * acc).toFixed(1)}%`);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[4]).toBeLessThan(losses[0]);
    expect(acc).toBeGreaterThanOrEqual(0.8);
    model.dispose();
  });
});
