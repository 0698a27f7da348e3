/**
 * The evaluation side of a run (Node only; split out of train.node.ts, which re-exports it): the
 * run's data, its seed streams, the per-epoch kNN monitor, the final evaluation (trained vs random
 * init, collapse figure) and `webgrad eval` on a saved checkpoint.
 */
import fs from 'node:fs';
import path from 'node:path';
import { noGrad } from '../../autograd/index.js';
import { firstN, type Dataset } from '../../src/data/dataset.js';
import { fashionMnist } from '../../src/data/fashion_mnist.node.js';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD } from '../../src/data/idx.js';
import { DataLoader } from '../../src/data/loader.js';
import { Generator } from '../../src/random.js';
import { hasRuntime, init } from '../../src/runtime.js';
import { scope } from '../../src/scope.js';
import { collapseFigure, evaluateBackbone, type Backbone } from '../eval.js';
import type { SSLMethod } from '../ssl/method.js';
import { resolveConfig, type TrainConfig } from './config.js';
import { buildBackbone, buildMethod, methodTrainDefaults, projectorOutput } from './methods.js';
import { formatReportTable, gainsOf, scoresOf, type EvaluationReport, type NetworkScores } from './report.js';
import { findCheckpoint, loadMethodState, readRunCheckpoint, writeFileAtomic } from './run_files.node.js';

/** Image normalisation of Fashion-MNIST (the presets' Normalize and the evaluation's). */
export const NORM = { mean: FASHION_MNIST_MEAN, std: FASHION_MNIST_STD };

/** Seeds of the run's independent streams, derived from the config seed. */
export function streamSeeds(seed: number): { loader: bigint; init: bigint; augment: bigint; global: bigint } {
  const s = BigInt(seed) * 4n;
  return { loader: s, init: s + 1n, augment: s + 2n, global: s + 3n };
}

/** The datasets of a config: first `trainSize` / `testSize` images of the splits. */
export function loadData(c: TrainConfig): { train: Dataset<'u8'>; test: Dataset<'u8'> } {
  if (c.data !== 'fashion-mnist') throw new Error(`train: unknown data '${String(c.data)}' (fashion-mnist)`);
  const train = fashionMnist({ split: 'train', dir: c.dataDir });
  const test = fashionMnist({ split: 'test', dir: c.dataDir });
  if (c.trainSize > train.length) throw new Error(`train: trainSize ${c.trainSize} exceeds the ${train.length} images of fashion-mnist train`);
  if (c.testSize > test.length) throw new Error(`train: testSize ${c.testSize} exceeds the ${test.length} images of fashion-mnist test`);
  return { train: firstN(train, c.trainSize), test: firstN(test, c.testSize) };
}

/** The collapse figure of the projector outputs of the first `n` train images (eval mode, no grad). */
async function collapseOf(method: SSLMethod, ds: Dataset<'u8'>, n: number): Promise<EvaluationReport['collapse']> {
  const count = Math.min(n, ds.length);
  if (count < 2) return null;
  const loader = new DataLoader(firstN(ds, count), { batchSize: count, shuffle: false, ...NORM });
  const prev = method.namedModules().map(([, m]) => [m, m.training] as const);
  method.train(false);
  try {
    for await (const b of loader.epoch(0)) {
      const z = noGrad(() => scope(() => projectorOutput(method, b.images)));
      try {
        if (!z) return null;
        const value = await collapseFigure(z);
        const dim = z.shape[1];
        return { value, dim, healthy: 1 / Math.sqrt(dim), ratio: value * Math.sqrt(dim), images: count };
      } finally {
        z?.dispose();
      }
    }
    return null;
  } finally {
    for (const [m, t] of prev) m.training = t;
  }
}

/**
 * The final evaluation: kNN (config k's) and linear probe of the trained backbone and of the same
 * architecture at its random init (the same init stream), each with BN re-estimated on the same
 * first `bnImages` train images and pooled eval-mode features; plus the collapse figure.
 */
export async function evaluateRun(method: SSLMethod, c: TrainConfig, data: { train: Dataset<'u8'>; test: Dataset<'u8'> }): Promise<EvaluationReport> {
  const t0 = performance.now();
  const e = c.eval;
  const opts = {
    train: data.train, test: data.test, ...NORM, bnImages: Math.min(e.bnImages, data.train.length),
    knn: { k: e.knnK.filter((k) => k <= data.train.length) },
    probe: e.probeEpochs > 0 ? { epochs: e.probeEpochs, seed: c.seed } : (false as const),
  };
  if (opts.knn.k.length === 0) throw new Error(`evaluate: every kNN k (${e.knnK.join(', ')}) exceeds the ${data.train.length} train images`);
  const trained = await evaluateBackbone(method.backbone as Backbone, opts);
  const fresh = buildBackbone(c.backbone, new Generator(streamSeeds(c.seed).init));
  let random;
  try {
    random = await evaluateBackbone(fresh as Backbone, opts);
  } finally {
    fresh.dispose();
  }
  const collapse = await collapseOf(method, data.train, e.collapseImages);
  const t: NetworkScores = scoresOf(trained);
  const r: NetworkScores = scoresOf(random);
  return {
    trained: t, randomInit: r, gain: gainsOf(t, r), collapse, featureDim: trained.featureDim,
    trainImages: trained.trainCount, testImages: trained.testCount, bnImages: trained.bnImages,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The per-epoch kNN monitor: k = 20 (or less for tiny banks) on the first images, model left unchanged. */
export async function monitorKnn(method: SSLMethod, c: TrainConfig, data: { train: Dataset<'u8'>; test: Dataset<'u8'> }): Promise<number> {
  const trainN = Math.min(c.eval.monitorTrain, data.train.length);
  const k = Math.min(20, trainN);
  const r = await evaluateBackbone(method.backbone as Backbone, {
    train: data.train, test: data.test, ...NORM, trainLimit: trainN, testLimit: Math.min(c.eval.monitorTest, data.test.length),
    bnImages: Math.min(c.eval.bnImages, trainN), knn: { k: [k] }, probe: false,
  });
  return r.knn[k];
}

/** Options of {@link evaluateCheckpoint}. */
export interface EvaluateCheckpointOptions {
  /** Override the run's train / test subset sizes. */
  trainSize?: number;
  testSize?: number;
  /** Where to write the report JSON (default `eval.json` beside the checkpoint's run directory). */
  out?: string;
  /** Print the table (default true). */
  print?: boolean;
}

/**
 * `webgrad eval`: loads a run checkpoint, rebuilds its method, and runs the final evaluation
 * (trained vs random init, collapse figure) on the run's data (or other subset sizes). Writes the
 * report JSON and returns it.
 */
export async function evaluateCheckpoint(file: string, o: EvaluateCheckpointOptions = {}): Promise<EvaluationReport & { checkpoint: string; report: string }> {
  const ckpt = findCheckpoint(file);
  const { state, model } = readRunCheckpoint(ckpt);
  const c = resolveConfig([state.config, { ...(o.trainSize !== undefined ? { trainSize: o.trainSize } : {}), ...(o.testSize !== undefined ? { testSize: o.testSize } : {}) }], methodTrainDefaults);
  if (!hasRuntime()) await init({ strategy: c.strategy });
  const data = loadData(c);
  const initGen = new Generator(streamSeeds(c.seed).init);
  const method = buildMethod(c, () => buildBackbone(c.backbone, initGen), initGen);
  try {
    await loadMethodState(method, model, ckpt);
    const r = await evaluateRun(method, c, data);
    const runDir = path.dirname(path.dirname(path.resolve(ckpt)));
    const out = o.out ?? path.join(fs.existsSync(path.join(runDir, 'config.json')) ? runDir : path.dirname(path.resolve(ckpt)), 'eval.json');
    writeFileAtomic(out, `${JSON.stringify({ checkpoint: ckpt, epoch: state.epoch, step: state.step, config: c, evaluation: r }, null, 2)}\n`);
    if (o.print !== false) console.log(`${ckpt} (epoch ${state.epoch}, step ${state.step}):\n${formatReportTable(r)}\nwrote ${out}`);
    return { ...r, checkpoint: ckpt, report: out };
  } finally {
    method.dispose();
  }
}
