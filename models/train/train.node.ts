/**
 * `train(config)`: a self-supervised run end to end, as `webgrad train` drives it (Node only: it
 * reads Fashion-MNIST and writes the run directory). Steps:
 *  1. data: the first `trainSize` / `testSize` images of Fashion-MNIST's train / test splits;
 *     a seeded DataLoader (full batches, order a function of (seed, epoch)) hands out [0, 1]
 *     images, and the method's augmentation presets draw `numViews` normalised views on the GPU;
 *  2. model: the backbone (initial weights from their own seeded stream) inside `createMethod`;
 *  3. optimizer (SGD / LARS / AdamW) with a linear-warmup cosine learning rate per step;
 *  4. per step: loss, backward, optimizer step, `afterStep`, one JSON line in `log.jsonl`
 *     (loss, lr, images/s) and the progress line;
 *  5. per epoch: the kNN monitor (k = 20 on a subset, BN re-estimated, model left unchanged) and
 *     a checkpoint `checkpoints/epoch-NNNN.safetensors` holding the method's state dict, the
 *     optimizer state (`optimizer.*`) and, in its metadata, the config, step, epoch and every
 *     generator state: `--resume` continues bit-identically on the same adapter;
 *  6. at the end: the evaluation of the trained backbone and of the same architecture at its
 *     random init (same init seed, same protocol), the collapse figure of the projector outputs,
 *     `report.json`, the table, and `plot.svg` / `plot.png`.
 *
 * Run directory: `config.json`, `log.jsonl`, `checkpoints/`, `report.json`, `plot.svg`, `plot.png`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { backward, detach, noGrad } from '../../autograd/index.js';
import { augmentViews, type AugmentPreset } from '../../src/data/augment.js';
import { DataLoader } from '../../src/data/loader.js';
import { Generator, defaultGenerator, type GeneratorState } from '../../src/random.js';
import { hasRuntime, init, runtime } from '../../src/runtime.js';
import { writeSafetensors } from '../../src/safetensors.js';
import { scope } from '../../src/scope.js';
import type { Tensor } from '../../src/tensor.js';
import type { StepProgress } from '../ssl/method.js';
import { warmupCosine } from '../schedules.js';
import { resolveConfig, type TrainConfig, type TrainConfigInput } from './config.js';
import { buildBackbone, buildMethod, methodTrainDefaults, viewPresets } from './methods.js';
import { Progress, formatDuration, type ProgressSink } from './progress.js';
import { formatReportTable, type EvaluationReport } from './report.js';
import { createOptimizer, loadOptimizerState, optimizerState, type RunOptimizer } from './state.js';
import {
  RUN_CHECKPOINT_VERSION, RUN_METADATA_KEY, findCheckpoint, loadMethodState, moduleTensors, readLog, readRunCheckpoint,
  truncateLog, writeFileAtomic, writePlot,
} from './run_files.node.js';

import { evaluateRun, loadData, monitorKnn, streamSeeds } from './evaluate.node.js';

export { RUN_CHECKPOINT_VERSION, RUN_METADATA_KEY, findCheckpoint, readLog, readRunCheckpoint, writePlot };
export { evaluateCheckpoint, evaluateRun, loadData, streamSeeds, type EvaluateCheckpointOptions } from './evaluate.node.js';



/** One line of `log.jsonl` for a step. */
export interface StepRecord {
  type: 'step';
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  /** Batch images per second of this step, from the batch handed out to the loss read back (each image gives numViews views). */
  imagesPerSec: number;
  /** Seconds since this session started training. */
  elapsed: number;
  /** Scalars `afterStep` reported (momentum, queue pointer, ...). */
  stats?: Record<string, number>;
}

/** One line of `log.jsonl` for an epoch. */
export interface EpochRecord {
  type: 'epoch';
  epoch: number;
  /** Mean loss over the epoch's steps. */
  loss: number;
  seconds: number;
  /** kNN monitor accuracy (k = 20) after this epoch, when it ran. */
  knn?: number;
  checkpoint: string;
}

/** A kNN monitor point: epoch (0 = before training) and accuracy. */
export interface MonitorPoint {
  epoch: number;
  knn: number;
}

/** What a run checkpoint's metadata holds besides the tensors. */
export interface RunState {
  version: number;
  config: TrainConfig;
  /** Completed epochs and steps. */
  epoch: number;
  step: number;
  generators: Record<'init' | 'augment' | 'global', { seed: string; offset: string }>;
  monitor: MonitorPoint[];
}

/** Options of {@link train} besides the configuration. */
export interface TrainOptions {
  /** A checkpoint file or a run directory (its latest checkpoint) to continue from. */
  resume?: string;
  /** Progress output: 'auto' (stdout: a rewritten line on a TTY, periodic lines otherwise), 'off', or a sink. */
  progress?: 'auto' | 'off' | ProgressSink;
  /** Stop after this many steps in this session (for tests; checkpoints and the report are skipped if the run did not finish). */
  maxSteps?: number;
  /** Called after every step with its log record. */
  onStep?: (r: StepRecord) => void;
}

/** What {@link train} returns. */
export interface TrainResult {
  config: TrainConfig;
  runDir: string;
  /** Steps taken (in total, including those before a resume) and the last step's loss. */
  steps: number;
  lastLoss: number;
  /** Every step record of this session. */
  records: StepRecord[];
  monitor: MonitorPoint[];
  /** Checkpoint files written in this session. */
  checkpoints: string[];
  /** The final evaluation (null when `evaluate` is false or the run stopped early). */
  evaluation: EvaluationReport | null;
}

const genJson = (g: GeneratorState) => ({ seed: g.seed.toString(), offset: g.offset.toString() });
const genState = (j: { seed: string; offset: string }): GeneratorState => ({ seed: BigInt(j.seed), offset: BigInt(j.offset) });

/** `p` relative to the working directory when it lies below it, else absolute. */
function shortPath(p: string): string {
  const r = path.relative(process.cwd(), p);
  return r && !r.startsWith('..') && !path.isAbsolute(r) ? r : p;
}

function progressOf(opt: TrainOptions['progress'], every: number): Progress | null {
  if (opt === 'off') return null;
  if (opt && typeof opt === 'object') return new Progress(opt, every);
  const out = process.stdout;
  return new Progress({ write: (s) => void out.write(s), isTTY: Boolean(out.isTTY), columns: out.columns }, every);
}

/**
 * Trains a self-supervised method as the module comment describes. `input` is a configuration
 * layer (merged over the method's defaults; see config.ts) or, with `opts.resume`, overrides of
 * the checkpoint's configuration (`out`, `epochs`, `testSize`, `evaluate`, `eval`, `logEvery`, ...;
 * what defines the trajectory, from `method` to `warmupEpochs`, cannot change). Seeds the global
 * generator (`manualSeed`) with a stream derived from `seed`. The model is disposed at the end:
 * load a checkpoint (or `webgrad eval`) to use it afterwards.
 */
export async function train(input: TrainConfigInput = {}, opts: TrainOptions = {}): Promise<TrainResult> {
  let config: TrainConfig;
  let resumeFrom: ReturnType<typeof readRunCheckpoint> | null = null;
  let resumeFile: string | null = null;
  if (opts.resume) {
    resumeFile = findCheckpoint(opts.resume);
    resumeFrom = readRunCheckpoint(resumeFile);
    const base = resumeFrom.state.config;
    config = resolveConfig([base, input], methodTrainDefaults);
    const fixed = ['method', 'backbone', 'data', 'trainSize', 'batchSize', 'optimizer', 'seed', 'lr', 'weightDecay', 'momentum', 'warmupEpochs'] as const;
    const changed = fixed.filter((k) => input[k] !== undefined && input[k] !== base[k]);
    if (changed.length) throw new Error(`resume: ${changed.map((k) => `${k} (${String(input[k])} vs the checkpoint's ${String(base[k])})`).join(', ')} cannot change when resuming`);
    // Without --out, continue in the checkpoint's own run directory (wherever the command runs from).
    const ownDir = path.dirname(path.dirname(path.resolve(resumeFile)));
    if (input.out === undefined && fs.existsSync(path.join(ownDir, 'config.json'))) config.out = ownDir;
  } else {
    config = resolveConfig([input], methodTrainDefaults);
  }
  const c = config;
  if (!hasRuntime()) await init({ strategy: c.strategy });
  const runDir = path.resolve(c.out);
  fs.mkdirSync(path.join(runDir, 'checkpoints'), { recursive: true });
  writeFileAtomic(path.join(runDir, 'config.json'), `${JSON.stringify(c, null, 2)}\n`);
  const logFile = path.join(runDir, 'log.jsonl');

  const data = loadData(c);
  const seeds = streamSeeds(c.seed);
  const initGen = new Generator(seeds.init);
  const augGen = new Generator(seeds.augment);
  defaultGenerator.manualSeed(seeds.global);
  const method = buildMethod(c, () => buildBackbone(c.backbone, initGen), initGen);
  const presets: AugmentPreset[] = viewPresets(c.method, method.numViews, data.train.shape, c.backbone);
  const loader = new DataLoader(data.train, { batchSize: c.batchSize, seed: seeds.loader, lastBatch: 'drop', mean: 0, std: 1 });
  const stepsPerEpoch = loader.length;
  const totalSteps = c.epochs * stepsPerEpoch;
  const warmup = Math.min(Math.round(c.warmupEpochs * stepsPerEpoch), totalSteps - 1);
  const names = new Map(method.namedParameters().map(([n, p]) => [p, n] as const));
  const params = method.trainableParameters().map((p, k) => [names.get(p) ?? `#${k}`, p] as const);
  const opt: RunOptimizer = createOptimizer(c.optimizer, params, { lr: c.lr, weightDecay: c.weightDecay, momentum: c.momentum });

  let startEpoch = 0;
  let step = 0;
  let monitor: MonitorPoint[] = [];
  if (resumeFrom) {
    const s = resumeFrom.state;
    await loadMethodState(method, resumeFrom.model, resumeFile!);
    loadOptimizerState(opt, resumeFrom.optimizer, s.step);
    initGen.setState(genState(s.generators.init));
    augGen.setState(genState(s.generators.augment));
    defaultGenerator.setState(genState(s.generators.global));
    startEpoch = s.epoch;
    step = s.step;
    monitor = s.monitor.filter((m) => m.epoch <= s.epoch);
    if (s.step !== s.epoch * stepsPerEpoch) throw new Error(`resume: the checkpoint is at step ${s.step}, epoch ${s.epoch}, which does not match ${stepsPerEpoch} steps per epoch`);
    const sourceLog = path.join(path.dirname(path.dirname(path.resolve(resumeFile!))), 'log.jsonl');
    truncateLog(logFile, step, startEpoch, fs.existsSync(logFile) || !fs.existsSync(sourceLog) ? logFile : sourceLog);
  } else if (fs.existsSync(logFile)) {
    fs.rmSync(logFile);
  }
  const log = (r: object) => fs.appendFileSync(logFile, `${JSON.stringify(r)}\n`);
  log({ type: 'start', time: new Date().toISOString(), resumeFrom: resumeFile, step, epoch: startEpoch, adapter: runtime().describe(), config: c });

  const progress = progressOf(opts.progress, c.logEvery ?? Math.max(1, Math.floor(stepsPerEpoch / 10)));
  const say = (s: string) => progress?.line(s);
  say(`${resumeFile ? `resuming from ${resumeFile} (epoch ${startEpoch}, step ${step})` : 'training'}: ${c.method} on ${c.backbone}, ${c.trainSize} ${c.data} images, ${c.epochs} epoch${c.epochs === 1 ? '' : 's'} x ${stepsPerEpoch} steps of ${c.batchSize}, ${c.optimizer} lr ${c.lr}, run dir ${runDir}`);

  const records: StepRecord[] = [];
  const checkpoints: string[] = [];
  const t0 = performance.now();
  let sessionSteps = 0;
  let lastLoss = NaN;
  let stopped = false;
  try {
    if (!resumeFrom && c.eval.monitorEvery > 0) {
      const knn = await monitorKnn(method, c, data);
      monitor.push({ epoch: 0, knn });
      say(`epoch 0 (random init): kNN@${Math.min(20, c.eval.monitorTrain, c.trainSize)} ${(100 * knn).toFixed(2)}%`);
    }
    for (let epoch = startEpoch; epoch < c.epochs && !stopped; epoch++) {
      const te = performance.now();
      let lossSum = 0;
      let count = 0;
      for await (const b of loader.epoch(epoch)) {
        const ts = performance.now();
        const progressNow: StepProgress = { step, totalSteps, epoch };
        const lr = warmupCosine(step, { base: c.lr, warmup, total: totalSteps });
        for (const g of opt.groups) (g as { lr: number }).lr = lr;
        const lossT: Tensor = scope(() => {
          const views = noGrad(() => augmentViews(b.images, presets, augGen));
          const loss = method.loss(views, progressNow);
          backward(loss);
          opt.step();
          opt.zeroGrad();
          return detach(loss);
        });
        const stats = scope(() => method.afterStep(progressNow));
        runtime().flush();
        const loss = await lossT.item();
        lossT.dispose();
        if (!Number.isFinite(loss)) throw new Error(`train: the loss is ${loss} at step ${step} (epoch ${epoch + 1}); lower the learning rate (--lr ${c.lr})`);
        const now = performance.now();
        const rec: StepRecord = {
          type: 'step', step, epoch, loss, lr, imagesPerSec: c.batchSize / ((now - ts) / 1000), elapsed: (now - t0) / 1000,
          ...(stats && Object.keys(stats).length ? { stats: { ...stats } } : {}),
        };
        log(rec);
        records.push(rec);
        opts.onStep?.(rec);
        lossSum += loss;
        count++;
        sessionSteps++;
        lastLoss = loss;
        progress?.step({
          step, totalSteps, epoch, epochs: c.epochs, loss, lr, imagesPerSec: rec.imagesPerSec,
          secondsPerStep: (now - t0) / 1000 / sessionSteps,
        });
        step++;
        if (opts.maxSteps !== undefined && sessionSteps >= opts.maxSteps) {
          stopped = true;
          break;
        }
      }
      if (stopped) break;
      const epochRec: EpochRecord = { type: 'epoch', epoch, loss: lossSum / count, seconds: (performance.now() - te) / 1000, checkpoint: '' };
      if (c.eval.monitorEvery > 0 && ((epoch + 1) % c.eval.monitorEvery === 0 || epoch + 1 === c.epochs)) {
        epochRec.knn = await monitorKnn(method, c, data);
        monitor.push({ epoch: epoch + 1, knn: epochRec.knn });
      }
      const file = path.join(runDir, 'checkpoints', `epoch-${String(epoch + 1).padStart(4, '0')}.safetensors`);
      const state: RunState = {
        version: RUN_CHECKPOINT_VERSION, config: c, epoch: epoch + 1, step,
        generators: { init: genJson(initGen.getState()), augment: genJson(augGen.getState()), global: genJson(defaultGenerator.getState()) },
        monitor,
      };
      const tensors = [...(await moduleTensors(method)), ...(await optimizerState(opt))];
      writeFileAtomic(file, writeSafetensors(tensors, { format: 'pt', [RUN_METADATA_KEY]: JSON.stringify(state) }));
      checkpoints.push(file);
      epochRec.checkpoint = path.relative(runDir, file);
      log(epochRec);
      say(`epoch ${epoch + 1}/${c.epochs}: loss ${epochRec.loss.toFixed(4)}${epochRec.knn !== undefined ? `, kNN@${Math.min(20, c.eval.monitorTrain, c.trainSize)} ${(100 * epochRec.knn).toFixed(2)}%` : ''}, ${formatDuration(epochRec.seconds)}; checkpoint ${epochRec.checkpoint}`);
    }
    progress?.end();

    let evaluation: EvaluationReport | null = null;
    const finished = !stopped && step === totalSteps;
    if (finished && c.evaluate) {
      say('evaluating: trained network and the same architecture at its random init (kNN, linear probe, collapse figure)');
      evaluation = await evaluateRun(method, c, data);
      log({ type: 'eval', ...evaluation });
      const report = {
        config: c, runDir, steps: step, trainSeconds: (performance.now() - t0) / 1000, adapter: runtime().describe(),
        monitor, evaluation,
      };
      writeFileAtomic(path.join(runDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
      say(formatReportTable(evaluation));
    }
    if (finished || checkpoints.length) {
      // The dashed line: the monitor's own epoch-0 point (random init, same subset and protocol).
      const plot = await writePlot(runDir, c, monitor, monitor.find((m) => m.epoch === 0)?.knn);
      say(`wrote ${shortPath(plot.png)}, ${shortPath(plot.svg)}${evaluation ? `, ${shortPath(path.join(runDir, 'report.json'))}` : ''}`);
    }
    return { config: c, runDir, steps: step, lastLoss, records, monitor, checkpoints, evaluation };
  } finally {
    progress?.end();
    opt.dispose();
    method.dispose();
  }
}
