/**
 * Evaluation of learned representations, as the SSL literature reports it:
 *  - `extractFeatures`: the pooled backbone output of every image, eval mode, no grad, batched,
 *    into one [N, D] GPU tensor (+ i32 labels);
 *  - `reestimateBatchNorm`: BatchNorm running statistics recomputed on a fixed set of training
 *    images (torch.optim.swa_utils.update_bn semantics), so a trained and a random-init network
 *    are evaluated with statistics taken the same way;
 *  - `knnAccuracy`: the weighted kNN monitor of InstDisc / lightly (cosine similarity, top-k,
 *    vote weight exp(s / τ) summed per class), on the GPU, for several k in one pass;
 *  - `linearProbe`: a softmax-regression classifier on frozen, standardised features;
 *  - `collapseFigure`: mean per-dimension std of L2-normalised embeddings (≈ 1/√d healthy, 0 collapsed);
 *  - `evaluateBackbone`: BN re-estimation + features + kNN (k = 20, 200) + probe in one call.
 * Sources of images are a {@link Dataset} (read in order, normalised with `mean`/`std`) or a
 * {@link DataLoader} (its epoch 0, in its order, with its own normalisation).
 */
import { mean, noGrad, normalize, sqrt, variance } from '../autograd/index.js';
import { firstN, type Dataset as ImageDataset } from '../src/data/dataset.js';
import { DataLoader } from '../src/data/loader.js';
import { copyInto, fillInto } from '../src/kernels/elementwise.js';
import type { Normalization } from '../src/kernels/data.js';
import { runtime } from '../src/runtime.js';
import { scope } from '../src/scope.js';
import { fmt } from '../src/shape.js';
import { Tensor } from '../src/tensor.js';
import * as V from '../src/views.js';
import { classesOf, knnAccuracy, type KnnOptions } from './knn.js';
import type { Module } from './nn/module.js';
import { BatchNorm1d, BatchNorm2d } from './nn/norm.js';
import { linearProbe, type LinearProbeOptions } from './probe.js';

export { knnPredict, knnAccuracy, type KnnOptions } from './knn.js';
export { linearProbe, type LinearProbeOptions, type LinearProbeResult } from './probe.js';

/** A network evaluated here: `features(x)` when it has one (ResNet, ViT), else `forward(x)`. */
export type Backbone = Module & { forward(x: Tensor): Tensor; features?: (x: Tensor) => Tensor };

/** Where images come from: a dataset (read in order) or a loader (its epoch 0, in its order). */
export type EvalSource = ImageDataset | DataLoader;

/** Options shared by the functions that read images from an {@link EvalSource}. */
export interface SourceOptions extends Normalization {
  /** Images per forward pass for dataset sources (default 256; a loader keeps its own). */
  batchSize?: number;
  /** Use only the first `limit` images of the source (default: all). */
  limit?: number;
  /**
   * The representation of a batch (default: `features(x)` if the network has it, else
   * `forward(x)`); [B, D], or [B, C, H, W] which is global-average-pooled to [B, C].
   */
  embed?: (x: Tensor) => Tensor;
}

/** Features of a set of images: f32 [N, D] and their labels i32 [N] (the caller disposes both). */
export interface Features {
  features: Tensor;
  labels: Tensor;
}

const sourceLength = (s: EvalSource): number => (s instanceof DataLoader ? s.dataset.length : s.length);

function countOf(op: string, s: EvalSource, limit: number | undefined): number {
  const n = sourceLength(s);
  if (limit === undefined) return n;
  if (!Number.isInteger(limit) || limit < 0) throw new Error(`${op}: limit must be a non-negative integer, got ${limit}`);
  return Math.min(n, limit);
}

/** The first `n` images of the source as [B, C, H, W] batches with i32 labels (loader-owned: use before the next). */
async function* batchesOf(s: EvalSource, n: number, o: SourceOptions): AsyncGenerator<{ images: Tensor; labels: Tensor }> {
  const loader = s instanceof DataLoader
    ? s
    : new DataLoader(firstN(s, n), { batchSize: o.batchSize ?? 256, shuffle: false, mean: o.mean, std: o.std });
  let seen = 0;
  if (n === 0) return;
  for await (const b of loader.epoch(0)) {
    const take = Math.min(b.images.shape[0], n - seen);
    const images = take === b.images.shape[0] ? b.images : V.slice(b.images, 0, 0, take);
    const labels = take === b.images.shape[0] ? b.labels : V.slice(b.labels, 0, 0, take);
    try {
      yield { images, labels };
    } finally {
      // Disposing is idempotent: this also frees the batches of a loader with own: 'caller'.
      for (const t of [images, labels, b.images, b.labels]) t.dispose();
    }
    seen += take;
    if (seen >= n) return;
  }
}

/** Sets training mode on `m` and all submodules; the returned function restores every module's own flag. */
function setMode(m: Module, training: boolean): () => void {
  const prev = m.namedModules().map(([, s]) => [s, s.training] as const);
  m.train(training);
  return () => {
    for (const [s, t] of prev) s.training = t;
  };
}

/** The default representation: `features(x)` when the network has it, else `forward(x)`. */
const defaultEmbed = (net: Backbone) => (x: Tensor): Tensor => (typeof net.features === 'function' ? net.features(x) : net.forward(x));

/** [B, D] as is; [B, C, H, W] averaged over H and W. */
function pooled(y: Tensor): Tensor {
  if (y.rank === 2) return y;
  if (y.rank === 4) return mean(y, [2, 3]);
  throw new Error(`extractFeatures: the network gave ${fmt(y.shape)}; expected [B, D] or [B, C, H, W] (pass opts.embed to pick a representation)`);
}

/**
 * Runs `backbone` in eval mode without gradients over the first `opts.limit` images of `source`
 * (all by default) and returns the pooled representations as one f32 [N, D] GPU tensor with the
 * i32 labels [N], in source order. Each module's training flag is restored afterwards.
 */
export async function extractFeatures(backbone: Backbone, source: EvalSource, opts: SourceOptions = {}): Promise<Features> {
  const n = countOf('extractFeatures', source, opts.limit);
  const embed = opts.embed ?? defaultEmbed(backbone);
  const restore = setMode(backbone, false);
  let features: Tensor | null = null;
  const labels = Tensor.empty([n], 'i32');
  let row = 0;
  try {
    for await (const b of batchesOf(source, n, opts)) {
      const f = noGrad(() => scope(() => pooled(embed(b.images))));
      const rows = b.images.shape[0];
      if (f.rank !== 2 || f.shape[0] !== rows) throw new Error(`extractFeatures: ${rows} images gave features ${fmt(f.shape)}`);
      features ??= Tensor.empty([n, f.shape[1]]);
      if (f.shape[1] !== features.shape[1]) throw new Error(`extractFeatures: feature width changed from ${features.shape[1]} to ${f.shape[1]}`);
      const dst = V.slice(features, 0, row, row + rows);
      const dstLabels = V.slice(labels, 0, row, row + rows);
      copyInto(dst, f);
      copyInto(dstLabels, b.labels);
      for (const t of [dst, dstLabels, f]) t.dispose();
      row += rows;
      runtime().flush();
    }
  } catch (e) {
    features?.dispose();
    labels.dispose();
    throw e;
  } finally {
    restore();
  }
  if (!features) {
    labels.dispose();
    throw new Error(`extractFeatures: the source has no images (limit ${opts.limit ?? 'none'})`);
  }
  return { features, labels };
}

type AnyBatchNorm = BatchNorm1d | BatchNorm2d;

/** Options of {@link reestimateBatchNorm}. */
export interface BatchNormReestimateOptions extends Omit<SourceOptions, 'limit'> {
  /** How many images of the source (its first ones) the statistics come from (default 1000). */
  images?: number;
}

/**
 * Recomputes every BatchNorm's running statistics of `model` from the first `opts.images` (default
 * 1,000) images of `source`, as torch.optim.swa_utils.update_bn: each BN's running_mean/var are
 * reset (to 0 / 1, num_batches_tracked to 0) and momentum set to null, so that after forwarding the
 * batches in training mode without gradients they hold the cumulative average of the per-batch
 * statistics (mean, unbiased variance; every batch weighs the same). Momenta and every module's
 * training flag are restored afterwards. The forward is `opts.embed` (default `features(x)` when
 * the network has it, else `forward(x)`); a BN that forward never reaches (a head's, when only the
 * backbone runs) keeps its previous statistics, and so does every BN if the pass throws. Returns
 * the number of images used (0 and nothing done when the model has no BN with running statistics).
 */
export async function reestimateBatchNorm(model: Backbone, source: EvalSource, opts: BatchNormReestimateOptions = {}): Promise<number> {
  const images = opts.images ?? 1000;
  const n = countOf('reestimateBatchNorm', source, images);
  const bns = model.namedModules().map(([, m]) => m)
    .filter((m): m is AnyBatchNorm => (m instanceof BatchNorm1d || m instanceof BatchNorm2d) && m.runningMean !== null);
  if (bns.length === 0 || n === 0) return 0;
  const momenta = bns.map((bn) => bn.momentum);
  // Each BN's state before the pass: put back where the forward never reached it (or on error).
  const before = bns.map((bn) => [bn.runningMean!, bn.runningVar!, bn.numBatchesTracked!].map(copyOf));
  for (const bn of bns) {
    fillInto(bn.runningMean!, 0);
    fillInto(bn.runningVar!, 1);
    fillInto(bn.numBatchesTracked!, 0);
    (bn as { momentum: number | null }).momentum = null;
  }
  const embed = opts.embed ?? defaultEmbed(model);
  const restore = setMode(model, true);
  let seen = 0;
  let reached: boolean[] = bns.map(() => false);
  try {
    for await (const b of batchesOf(source, n, opts)) {
      if (b.images.shape[0] < 2) throw new Error(`reestimateBatchNorm: a batch of ${b.images.shape[0]} image cannot give batch statistics; use another batch size`);
      noGrad(() => scope(() => void embed(b.images)));
      seen += b.images.shape[0];
      runtime().flush();
    }
    reached = (await Promise.all(bns.map((bn) => bn.numBatchesTracked!.item()))).map((c) => c > 0);
  } finally {
    bns.forEach((bn, i) => {
      (bn as { momentum: number | null }).momentum = momenta[i];
      const state = [bn.runningMean!, bn.runningVar!, bn.numBatchesTracked!];
      if (!reached[i]) state.forEach((t, j) => copyInto(t, before[i][j]));
      before[i].forEach((t) => t.dispose());
    });
    restore();
  }
  return seen;
}

/**
 * The collapse figure of embeddings z [B, d] (B >= 2): each row is L2-normalised, the std of every
 * dimension is taken over the batch (unbiased, as torch.std), and the mean over dimensions is
 * returned. Healthy embeddings give about 1/√d; a collapsed (constant) output gives 0 (lightly's
 * std_of_l2_normalized; the SimSiam paper's collapse monitor).
 */
export async function collapseFigure(z: Tensor): Promise<number> {
  if (z.dtype !== 'f32' || z.rank !== 2 || z.shape[0] < 2) throw new Error(`collapseFigure: z must be f32 [B, d] with B >= 2, got ${z.dtype} ${fmt(z.shape)}`);
  const t = noGrad(() => scope(() => mean(sqrt(variance(normalize(z), [0])))));
  const v = await t.item();
  t.dispose();
  return v;
}

/** Options of {@link evaluateBackbone}. */
export interface EvaluateOptions extends Normalization {
  /** The train images (the kNN bank, the probe's training set, the BN re-estimation images). */
  train: EvalSource;
  /** The test images. */
  test: EvalSource;
  /** Number of classes (default: read from the train labels). */
  numClasses?: number;
  /** Images per forward pass for dataset sources (default 256). */
  batchSize?: number;
  /** Use only the first trainLimit / testLimit images (default all). */
  trainLimit?: number;
  testLimit?: number;
  /** BN statistics re-estimated on this many first train images (default 1000; 0 keeps the model's). */
  bnImages?: number;
  /** Put the model's own buffers back afterwards (default true): evaluation leaves the model unchanged. */
  restoreBuffers?: boolean;
  /** kNN settings (default k = [20, 200], τ = 0.1). */
  knn?: Omit<KnnOptions, 'numClasses'>;
  /** Linear-probe settings, or false to skip the probe. */
  probe?: Omit<LinearProbeOptions, 'numClasses'> | false;
  /** The representation (default `features(x)` when present, else `forward(x)`, pooled). */
  embed?: (x: Tensor) => Tensor;
}

/** What {@link evaluateBackbone} measured. */
export interface BackboneEvaluation {
  /** kNN accuracy keyed by k. */
  knn: Record<number, number>;
  /** Linear-probe test accuracy (null when skipped). */
  linearProbe: number | null;
  /** Width D of the pooled features. */
  featureDim: number;
  /** Images in the train bank and the test set; images used for the BN statistics. */
  trainCount: number;
  testCount: number;
  bnImages: number;
}

/**
 * Evaluates a backbone the way issue 9 fixes it, identically for a trained and a random-init
 * network: BN running statistics re-estimated on the first `bnImages` (1,000) train images, then
 * pooled eval-mode features of the train and test images, the weighted kNN monitor (k = 20 and 200,
 * τ = 0.1) and a linear probe on them. With `restoreBuffers` (default) the model's buffers are put
 * back afterwards.
 */
export async function evaluateBackbone(backbone: Backbone, opts: EvaluateOptions): Promise<BackboneEvaluation> {
  const src = { mean: opts.mean, std: opts.std, batchSize: opts.batchSize, embed: opts.embed };
  const saved = opts.restoreBuffers === false ? [] : backbone.buffers().map((b) => [b, copyOf(b)] as const);
  let train: Features | null = null;
  let test: Features | null = null;
  try {
    const bnImages = opts.bnImages === 0 ? 0 : await reestimateBatchNorm(backbone, opts.train, { ...src, images: opts.bnImages ?? 1000 });
    train = await extractFeatures(backbone, opts.train, { ...src, limit: opts.trainLimit });
    test = await extractFeatures(backbone, opts.test, { ...src, limit: opts.testLimit });
    const numClasses = opts.numClasses ?? (await classesOf(train.labels));
    const knn = await knnAccuracy(train.features, train.labels, test.features, test.labels, { ...opts.knn, numClasses });
    const probe = opts.probe === false ? null
      : await linearProbe(train.features, train.labels, test.features, test.labels, { ...opts.probe, numClasses });
    return {
      knn, linearProbe: probe?.accuracy ?? null, featureDim: train.features.shape[1],
      trainCount: train.features.shape[0], testCount: test.features.shape[0], bnImages,
    };
  } finally {
    for (const f of [train, test]) {
      f?.features.dispose();
      f?.labels.dispose();
    }
    for (const [b, c] of saved) {
      copyInto(b, c);
      c.dispose();
    }
  }
}

/** A contiguous copy of a buffer (kept outside scopes until disposed). */
function copyOf(b: Tensor): Tensor {
  const c = Tensor.empty(b.shape, b.dtype);
  copyInto(c, b);
  return c;
}
