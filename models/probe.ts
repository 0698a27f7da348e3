/**
 * The linear probe of the SSL literature (split out of eval.ts, which re-exports it): a
 * softmax-regression classifier trained on frozen, standardised features, on the GPU.
 */
import {
  add, argmax, backward, crossEntropy, detach, div, eq, indexSelect, mean, noGrad, sqrt, sub, sum, variance,
} from '../autograd/index.js';
import { tensor } from '../src/creation.js';
import { Generator } from '../src/random.js';
import { runtime } from '../src/runtime.js';
import { scope } from '../src/scope.js';
import { fmt } from '../src/shape.js';
import type { Tensor } from '../src/tensor.js';
import * as V from '../src/views.js';
import { shuffledIndices } from './classifier.js';
import { checkFeatures, classesOf } from './knn.js';
import { Linear } from './nn/layers.js';
import { SGD } from './optim.js';

/** Options of {@link linearProbe}. */
export interface LinearProbeOptions {
  /** Number of classes (default: largest train label + 1, read back). */
  numClasses?: number;
  /** Passes over the train features (default 30). */
  epochs?: number;
  /** Rows per step (default 256; the last incomplete batch of an epoch is dropped). */
  batchSize?: number;
  /** Peak SGD learning rate, cosine-decayed to 0 over the run (default 0.1). */
  lr?: number;
  /** SGD momentum (default 0.9). */
  momentum?: number;
  /** L2 weight decay (default 0, as the MoCo / SimCLR linear evaluations). */
  weightDecay?: number;
  /** Seed of the classifier's initial weights and of the shuffling (default 0). */
  seed?: number;
  /** Standardise every feature with the train mean and std (default true). */
  standardize?: boolean;
}

/** What {@link linearProbe} returns. */
export interface LinearProbeResult {
  /** Test accuracy in [0, 1]. */
  accuracy: number;
  /** Accuracy on the train features after training. */
  trainAccuracy: number;
  /** Mean training loss of each epoch. */
  losses: number[];
}

/** Fraction of rows of `x` that `model` classifies as `y`. */
async function accuracyOf(model: Linear, x: Tensor, y: Tensor): Promise<number> {
  const hits = noGrad(() => scope(() => sum(eq(argmax(model.forward(x), 1), y))));
  const v = await hits.item();
  hits.dispose();
  return x.shape[0] > 0 ? v / x.shape[0] : NaN;
}

/**
 * Linear probe on frozen features: both sets are standardised with the train features' per-dim
 * mean and (biased) std, as a BatchNorm without affine in eval mode (x - μ) / √(σ² + 1e-5), then a
 * Linear(D, classes) is trained with softmax cross-entropy by the library's SGD (momentum 0.9,
 * cosine-decayed lr, shuffled mini-batches); returns test accuracy, train accuracy and the epoch
 * losses. Deterministic for a seed: the init and the per-epoch orders come from it, and every
 * kernel involved reduces in a fixed order. Features stay on the GPU throughout.
 */
export async function linearProbe(
  trainFeat: Tensor, trainLabels: Tensor, testFeat: Tensor, testLabels: Tensor, opts: LinearProbeOptions = {},
): Promise<LinearProbeResult> {
  const op = 'linearProbe';
  checkFeatures(op, trainFeat, trainLabels, 'train');
  checkFeatures(op, testFeat, testLabels, 'test');
  if (testFeat.shape[1] !== trainFeat.shape[1]) throw new Error(`${op}: train ${fmt(trainFeat.shape)} and test ${fmt(testFeat.shape)} features differ in width`);
  const [n, d] = trainFeat.shape;
  if (n === 0) throw new Error(`${op}: no train features`);
  const epochs = opts.epochs ?? 30;
  const batch = Math.min(opts.batchSize ?? 256, n);
  const lr = opts.lr ?? 0.1;
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(epochs) || epochs < 0) throw new Error(`${op}: epochs must be a non-negative integer, got ${epochs}`);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`${op}: batchSize must be a positive integer, got ${opts.batchSize}`);
  const classes = opts.numClasses ?? (await classesOf(trainLabels));

  const [xTrain, xTest] = noGrad(() => scope(() => {
    if (opts.standardize === false) return [V.contiguous(trainFeat), V.contiguous(testFeat)];
    const mu = mean(trainFeat, [0], true);
    const sd = sqrt(add(variance(trainFeat, [0], { correction: 0, keepdim: true }), 1e-5));
    return [div(sub(trainFeat, mu), sd), div(sub(testFeat, mu), sd)];
  }));
  const model = new Linear(d, classes, { generator: new Generator(seed) });
  const opt = new SGD(model.parameters(), { lr, momentum: opts.momentum ?? 0.9, weightDecay: opts.weightDecay ?? 0 });
  const steps = Math.floor(n / batch);
  const total = epochs * steps;
  const losses: number[] = [];
  try {
    let t = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      const perm = tensor(shuffledIndices(n, seed * 1009 + epoch), { dtype: 'i32' });
      const [xs, ys] = noGrad(() => [indexSelect(xTrain, 0, perm), indexSelect(trainLabels, 0, perm)]);
      perm.dispose();
      let lossSum: Tensor | null = null;
      for (let s = 0; s < steps; s++, t++) {
        opt.groups[0].lr = (lr * (1 + Math.cos((Math.PI * t) / total))) / 2;
        const next: Tensor = scope(() => {
          const loss = crossEntropy(model.forward(V.slice(xs, 0, s * batch, (s + 1) * batch)), V.slice(ys, 0, s * batch, (s + 1) * batch));
          backward(loss);
          opt.step();
          opt.zeroGrad();
          return noGrad(() => (lossSum ? add(lossSum, loss) : detach(loss)));
        });
        lossSum?.dispose();
        lossSum = next;
        runtime().flush();
      }
      xs.dispose();
      ys.dispose();
      const epochLoss: number = lossSum ? (await lossSum.item()) / steps : NaN;
      lossSum?.dispose();
      losses.push(epochLoss);
    }
    return { accuracy: await accuracyOf(model, xTest, testLabels), trainAccuracy: await accuracyOf(model, xTrain, trainLabels), losses };
  } finally {
    opt.dispose();
    model.dispose();
    xTrain.dispose();
    xTest.dispose();
  }
}
