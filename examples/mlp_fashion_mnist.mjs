// Supervised MLP 784-256-128-10 on Fashion-MNIST (Debian's dataset-fashion-mnist), on WebGPU.
//   npm run train:mlp -- [--epochs 10] [--batch 128] [--lr 1e-3] [--seed 0]
// Prints the loss per epoch, the test accuracy and the adapter. Run after `npm run build`.
import { parseArgs } from 'node:util';
import * as wg from '../dist/node.js';

const { values } = parseArgs({
  options: {
    epochs: { type: 'string', default: '10' },
    batch: { type: 'string', default: '128' },
    lr: { type: 'string', default: '1e-3' },
    seed: { type: 'string', default: '0' },
  },
});
const epochs = Number(values.epochs);
const batchSize = Number(values.batch);
const lr = Number(values.lr);
const seed = Number(values.seed);

const rt = await wg.init();
console.log(rt.describe());
const train = wg.flattenImages(wg.loadFashionMnist('train'));
const test = wg.flattenImages(wg.loadFashionMnist('test'));
console.log(`Fashion-MNIST: ${train.count} train, ${test.count} test images; MLP 784-256-128-10, AdamW lr ${lr}, batch ${batchSize}, ${epochs} epochs`);

wg.manualSeed(seed);
const model = new wg.MLP([train.dim, 256, 128, 10]);
const opt = new wg.AdamW(model.parameters(), { lr, weightDecay: 1e-4 });
const t0 = performance.now();
await wg.fitClassifier(model, train, opt, {
  epochs,
  batchSize,
  seed,
  onEpoch: async (e, loss) => {
    const acc = await wg.evaluateAccuracy(model, test);
    const s = (performance.now() - t0) / 1000;
    console.log(`epoch ${e + 1}/${epochs}  loss ${loss.toFixed(4)}  test acc ${(100 * acc).toFixed(2)}%  (${s.toFixed(1)} s)`);
  },
});
const acc = await wg.evaluateAccuracy(model, test);
console.log(`final test accuracy ${(100 * acc).toFixed(2)}% after ${epochs} epochs, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
