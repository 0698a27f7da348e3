/**
 * Supervised classification on in-memory data: a seeded, shuffled mini-batch loop with
 * softmax cross-entropy, and accuracy evaluation. Used to train an MLP on Fashion-MNIST and, later,
 * linear probes on frozen features. (The GPU data pipeline with augmentations lives in src/data/.)
 */
import { backward, detach } from '../autograd/tape.js';
import { add } from '../autograd/ops/elementwise.js';
import { noGrad } from '../autograd/grad_mode.js';
import { crossEntropy } from '../autograd/ops/losses.js';
import { argmax } from '../autograd/ops/reduce.js';
import { tensor } from '../src/creation.js';
import { runtime } from '../src/runtime.js';
import { scope } from '../src/scope.js';
import type { Tensor } from '../src/tensor.js';
import type { Module } from './nn/module.js';

/** Rows of features with integer labels, held on the CPU. */
export interface Dataset {
  /** [count, dim] row-major features. */
  x: Float32Array;
  /** [count] labels in [0, classes). */
  y: Int32Array;
  count: number;
  dim: number;
}

/** A module mapping [B, dim] features to [B, classes] logits. */
export type Classifier = Module & { forward(x: Tensor): Tensor };

/** What an optimizer offers the loop. */
export interface StepOptimizer {
  step(): void;
  zeroGrad(): void;
}

/** Options of {@link fitClassifier}. */
export interface FitOptions {
  epochs: number;
  batchSize: number;
  /** Seed of the shuffling order. */
  seed?: number;
  /** Drop the last incomplete batch (default true, so every step has the same shape). */
  dropLast?: boolean;
  /** Called after every epoch with its mean training loss (read back once per epoch). */
  onEpoch?: (epoch: number, meanLoss: number) => void | Promise<void>;
}

/** Fisher-Yates shuffle of 0..n-1 from a seeded mulberry32 stream. */
export function shuffledIndices(n: number, seed: number): Int32Array {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx;
}

function gatherRows(d: Dataset, idx: Int32Array, from: number, to: number): { x: Float32Array; y: Int32Array } {
  const b = to - from;
  const x = new Float32Array(b * d.dim);
  const y = new Int32Array(b);
  for (let i = 0; i < b; i++) {
    const r = idx[from + i];
    x.set(d.x.subarray(r * d.dim, (r + 1) * d.dim), i * d.dim);
    y[i] = d.y[r];
  }
  return { x, y };
}

/**
 * Trains `model` with softmax cross-entropy: per step, one batch is uploaded, the loss is
 * differentiated and the optimizer steps. The loss is summed on the GPU and read back once per
 * epoch, so steps never wait for the GPU. Returns the mean loss of each epoch.
 */
export async function fitClassifier(model: Classifier, data: Dataset, opt: StepOptimizer, o: FitOptions): Promise<number[]> {
  const { epochs, batchSize } = o;
  if (!(batchSize > 0) || batchSize > data.count) throw new Error(`fitClassifier: batchSize ${batchSize} must be in [1, ${data.count}]`);
  const dropLast = o.dropLast ?? true;
  const losses: number[] = [];
  model.train();
  for (let epoch = 0; epoch < epochs; epoch++) {
    const idx = shuffledIndices(data.count, (o.seed ?? 0) * 1009 + epoch);
    const end = dropLast ? data.count - (data.count % batchSize) : data.count;
    let total: Tensor | null = null;
    let steps = 0;
    for (let from = 0; from < end; from += batchSize) {
      const to = Math.min(from + batchSize, end);
      const b = gatherRows(data, idx, from, to);
      const next: Tensor = scope(() => {
        const x = tensor(b.x, { shape: [to - from, data.dim] });
        const y = tensor(b.y, { dtype: 'i32' });
        const loss = crossEntropy(model.forward(x), y);
        backward(loss);
        opt.step();
        opt.zeroGrad();
        return noGrad(() => (total ? add(total, loss) : detach(loss))); // the epoch's running sum
      });
      total?.dispose();
      total = next;
      steps++;
      runtime().flush();
    }
    const mean = total ? (await total.item()) / steps : NaN;
    total?.dispose();
    losses.push(mean);
    await o.onEpoch?.(epoch, mean);
  }
  return losses;
}

/** Fraction of rows whose argmax logit equals the label (eval mode, no grad, batched). */
export async function evaluateAccuracy(model: Classifier, data: Dataset, batchSize = 1000): Promise<number> {
  const wasTraining = model.training;
  model.eval();
  let correct = 0;
  try {
    for (let from = 0; from < data.count; from += batchSize) {
      const to = Math.min(from + batchSize, data.count);
      const pred = noGrad(() =>
        scope(() => argmax(model.forward(tensor(data.x.subarray(from * data.dim, to * data.dim), { shape: [to - from, data.dim] })), 1)),
      );
      const p = await pred.data();
      pred.dispose();
      for (let i = 0; i < p.length; i++) if (p[i] === data.y[from + i]) correct++;
    }
  } finally {
    if (wasTraining) model.train();
  }
  return correct / data.count;
}
