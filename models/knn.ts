/**
 * The weighted kNN monitor of InstDisc / lightly on the GPU (split out of models/eval.ts, which
 * re-exports it): cosine similarity of test rows against the whole train bank in bounded blocks,
 * one top-k pass (shaders/knn.wgsl), and a vote weighted by exp(s / τ) per class, for several k
 * at once.
 */
import { argmax, div, eq, exp, indexSelect, matmul, mul, noGrad, normalize, oneHot, sum } from '../autograd/index.js';
import { copyInto } from '../src/kernels/elementwise.js';
import { topkRows, TOPK_MAX } from '../src/kernels/knn.js';
import { runtime } from '../src/runtime.js';
import { scope } from '../src/scope.js';
import { fmt } from '../src/shape.js';
import { Tensor } from '../src/tensor.js';
import * as V from '../src/views.js';

/** Options of {@link knnPredict} and {@link knnAccuracy}. */
export interface KnnOptions {
  /** Neighbour counts evaluated together (default [20, 200]); each <= the train size and <= 1024. */
  k?: readonly number[];
  /** Temperature τ of the vote weight exp(s / τ) (default 0.1). */
  temperature?: number;
  /** Number of classes (labels in [0, numClasses)); knnAccuracy reads it from the train labels if absent. */
  numClasses?: number;
  /** Test rows per similarity block (default 256; lowered so a block stays within 128 MiB). */
  chunk?: number;
}

/** Validates a feature matrix f32 [N, D] and its i32 [N] labels, naming `op` and `what` in the error. */
export function checkFeatures(op: string, feat: Tensor, labels: Tensor, what: string): void {
  if (feat.dtype !== 'f32' || feat.rank !== 2) throw new Error(`${op}: ${what} features must be f32 [N, D], got ${feat.dtype} ${fmt(feat.shape)}`);
  if (labels.dtype !== 'i32' || labels.rank !== 1 || labels.shape[0] !== feat.shape[0]) {
    throw new Error(`${op}: ${what} labels must be i32 [${feat.shape[0]}], got ${labels.dtype} ${fmt(labels.shape)} for features ${fmt(feat.shape)}`);
  }
}

/**
 * Weighted kNN predictions on the GPU (InstDisc / lightly protocol): features are L2-normalised,
 * each test row's cosine similarities to the whole train bank are computed in blocks of
 * `opts.chunk` rows, the top max(k) are selected once (shaders/knn.wgsl) and, for each k, class c
 * scores Σ_{j<k, label_j = c} exp(s_j / τ); the prediction is the best class. Returns i32
 * [M, k.length]. Determinism: equal similarities rank the lower train index first, and equal
 * class scores go to the lower class (argmax's first maximum).
 */
export function knnPredict(trainFeat: Tensor, trainLabels: Tensor, testFeat: Tensor, opts: KnnOptions & { numClasses: number }): Tensor {
  const op = 'knnPredict';
  const ks = [...(opts.k ?? [20, 200])];
  const tau = opts.temperature ?? 0.1;
  const classes = opts.numClasses;
  checkFeatures(op, trainFeat, trainLabels, 'train');
  if (testFeat.dtype !== 'f32' || testFeat.rank !== 2 || testFeat.shape[1] !== trainFeat.shape[1]) {
    throw new Error(`${op}: test features must be f32 [M, ${trainFeat.shape[1]}], got ${testFeat.dtype} ${fmt(testFeat.shape)} (train ${fmt(trainFeat.shape)})`);
  }
  const [n] = trainFeat.shape;
  const [m] = testFeat.shape;
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1 || k > n || k > TOPK_MAX)) {
    throw new Error(`${op}: each k must be an integer in [1, min(train size ${n}, ${TOPK_MAX})], got [${ks.join(', ')}]`);
  }
  if (!(tau > 0)) throw new Error(`${op}: temperature must be > 0, got ${tau}`);
  if (!Number.isInteger(classes) || classes < 1) throw new Error(`${op}: numClasses must be a positive integer, got ${classes}`);
  const kmax = Math.max(...ks);
  const budget = Math.min(128 * 2 ** 20, runtime().limits.maxStorageBufferBindingSize);
  const chunk = Math.max(1, Math.min(opts.chunk ?? 256, Math.floor(budget / (4 * n)), Math.floor(budget / (4 * kmax * classes))));
  const preds = Tensor.empty([m, ks.length], 'i32');
  noGrad(() => scope(() => {
    const bank = normalize(trainFeat); // [N, D]
    for (let r0 = 0; r0 < m; r0 += chunk) {
      scope(() => {
        const r1 = Math.min(m, r0 + chunk);
        const rows = r1 - r0;
        const q = normalize(V.slice(testFeat, 0, r0, r1)); // [R, D]
        const sim = matmul(q, bank, { transB: true }); // [R, N]
        const { values, indices } = topkRows(sim, kmax); // [R, K]
        const w = exp(div(values, tau)); // [R, K]
        const lab = V.reshape(indexSelect(trainLabels, 0, V.reshape(indices, [rows * kmax])), [rows, kmax]);
        const hot = oneHot(lab, classes); // [R, K, C]
        ks.forEach((k, i) => {
          const wk = V.unsqueeze(V.slice(w, 1, 0, k), 2); // [R, k, 1]
          const votes = sum(mul(V.slice(hot, 1, 0, k), wk), [1]); // [R, C]
          copyInto(V.slice(V.slice(preds, 0, r0, r1), 1, i, i + 1), argmax(votes, 1, true));
        });
      });
      runtime().flush();
    }
  }));
  return preds;
}

/** Largest label + 1 (read back once). */
export async function classesOf(labels: Tensor): Promise<number> {
  const y = await labels.data();
  let c = 0;
  for (const v of y) c = Math.max(c, v + 1);
  return c;
}

/**
 * Weighted kNN accuracy ({@link knnPredict}) of the test set against the train bank, for every k
 * in `opts.k` (default 20 and 200, τ = 0.1) in one pass. Returns accuracy in [0, 1] keyed by k.
 */
export async function knnAccuracy(
  trainFeat: Tensor, trainLabels: Tensor, testFeat: Tensor, testLabels: Tensor, opts: KnnOptions = {},
): Promise<Record<number, number>> {
  checkFeatures('knnAccuracy', testFeat, testLabels, 'test');
  const ks = [...(opts.k ?? [20, 200])];
  const numClasses = opts.numClasses ?? (await classesOf(trainLabels));
  const preds = knnPredict(trainFeat, trainLabels, testFeat, { ...opts, k: ks, numClasses });
  const hits = noGrad(() => scope(() => sum(eq(preds, V.unsqueeze(testLabels, 1)), [0])));
  preds.dispose();
  const counts = await hits.data();
  hits.dispose();
  const m = testFeat.shape[0];
  const out: Record<number, number> = {};
  ks.forEach((k, i) => (out[k] = m > 0 ? counts[i] / m : NaN));
  return out;
}

