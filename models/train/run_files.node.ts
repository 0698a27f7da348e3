/**
 * Node-only: the files of a run directory (split out of train.node.ts, which re-exports the public
 * ones): run checkpoints (find, read, the method's tensors in and out), the JSON-lines log
 * (truncate on resume, read for the plot) and the plot files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readSafetensors, type SafeTensor } from '../../src/safetensors.js';
import type { SSLMethod } from '../ssl/method.js';
import type { TrainConfig } from './config.js';
import { plotSvg } from './plot.js';
import { OPTIMIZER_PREFIX } from './state.js';
import type { EpochRecord, MonitorPoint, RunState, StepRecord } from './train.node.js';

/** Version of the checkpoint metadata layout. */
export const RUN_CHECKPOINT_VERSION = 1;
/** Metadata key holding a run checkpoint's JSON state. */
export const RUN_METADATA_KEY = 'webgrad.run';

/** Finds the checkpoint `p` names: a file, or the latest `epoch-*.safetensors` of a run directory (or its `checkpoints/`). */
export function findCheckpoint(p: string): string {
  if (!fs.existsSync(p)) throw new Error(`resume: '${p}' does not exist`);
  if (fs.statSync(p).isFile()) return p;
  for (const dir of [path.join(p, 'checkpoints'), p]) {
    if (!fs.existsSync(dir)) continue;
    const files = fs.readdirSync(dir).filter((f) => /^epoch-\d+\.safetensors$/.test(f)).sort();
    if (files.length) return path.join(dir, files[files.length - 1]);
  }
  throw new Error(`resume: no checkpoint (epoch-NNNN.safetensors) in '${p}' or '${path.join(p, 'checkpoints')}'`);
}

/** Reads a run checkpoint: its state metadata, the method's tensors and the optimizer's. */
export function readRunCheckpoint(file: string): { state: RunState; model: Map<string, SafeTensor>; optimizer: Map<string, SafeTensor> } {
  let parsed;
  try {
    parsed = readSafetensors(fs.readFileSync(file));
  } catch (e) {
    throw new Error(`checkpoint '${file}': cannot read it (${(e as Error).message})`);
  }
  const raw = parsed.metadata?.[RUN_METADATA_KEY];
  if (!raw) throw new Error(`checkpoint '${file}' is not a webgrad run checkpoint (no '${RUN_METADATA_KEY}' metadata); webgrad eval needs a file written by webgrad train`);
  const state = JSON.parse(raw) as RunState;
  if (state.version !== RUN_CHECKPOINT_VERSION) throw new Error(`checkpoint '${file}': layout version ${state.version}, this webgrad reads ${RUN_CHECKPOINT_VERSION}`);
  const model = new Map<string, SafeTensor>();
  const optimizer = new Map<string, SafeTensor>();
  for (const [k, t] of parsed.tensors) (k.startsWith(OPTIMIZER_PREFIX) ? optimizer : model).set(k, t);
  return { state, model, optimizer };
}

/** Host copies of a module's state dict (f32 as F32, i32 as I32). */
export async function moduleTensors(m: SSLMethod): Promise<[string, SafeTensor][]> {
  const out: [string, SafeTensor][] = [];
  for (const [k, t] of m.stateDict()) {
    if (t.dtype === 'f32') out.push([k, { dtype: 'F32', shape: [...t.shape], data: (await t.data()) as Float32Array }]);
    else if (t.dtype === 'i32') out.push([k, { dtype: 'I32', shape: [...t.shape], data: (await t.data()) as Int32Array }]);
    else throw new Error(`checkpoint: '${k}' is ${t.dtype}; run checkpoints hold f32 and i32 tensors`);
  }
  return out;
}

/** Loads a checkpoint's tensors into the method (strict) and re-reads host-side mirrors (queue pointers). */
export async function loadMethodState(method: SSLMethod, tensors: Map<string, SafeTensor>, file: string): Promise<void> {
  try {
    method.loadStateDict(tensors, { strict: true });
  } catch (e) {
    throw new Error(`checkpoint '${file}' does not fit this method: ${(e as Error).message}`);
  }
  await method.afterLoad?.();
}

/** Writes `file` through a temporary file and a rename, so a reader never sees half of it. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/**
 * Keeps the log lines of steps before `step` and epochs before `epoch` of `from` (default `file`)
 * in `file`: a resumed run rewrites what follows, and a run resumed into another directory starts
 * with its source's history.
 */
export function truncateLog(file: string, step: number, epoch: number, from = file): void {
  if (!fs.existsSync(from)) return;
  const keep = fs.readFileSync(from, 'utf8').split('\n').filter((line) => {
    if (!line.trim()) return false;
    try {
      const r = JSON.parse(line) as { type?: string; step?: number; epoch?: number };
      if (r.type === 'step') return (r.step ?? Infinity) < step;
      if (r.type === 'epoch') return (r.epoch ?? Infinity) < epoch;
      return r.type === 'start';
    } catch {
      return false;
    }
  });
  writeFileAtomic(file, keep.map((l) => `${l}\n`).join(''));
}

/** Reads the step losses and monitor points of a run's `log.jsonl` (for the plot). */
export function readLog(file: string): { loss: [number, number][]; epochs: EpochRecord[] } {
  const loss: [number, number][] = [];
  const epochs: EpochRecord[] = [];
  if (!fs.existsSync(file)) return { loss, epochs };
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as StepRecord | EpochRecord | { type: string };
    if (r.type === 'step') loss.push([(r as StepRecord).step, (r as StepRecord).loss]);
    else if (r.type === 'epoch') epochs.push(r as EpochRecord);
  }
  return { loss, epochs };
}

/** Writes `plot.svg` and `plot.png` (sharp renders the SVG) into the run directory; `randomInitKnn` is drawn dashed. */
export async function writePlot(runDir: string, c: TrainConfig, monitor: MonitorPoint[], randomInitKnn?: number): Promise<{ svg: string; png: string }> {
  const { loss } = readLog(path.join(runDir, 'log.jsonl'));
  const svg = plotSvg({
    title: `${c.method} · ${c.backbone} · ${c.data} (${c.trainSize} train images, batch ${c.batchSize})`,
    loss, knn: monitor.map((m) => [m.epoch, m.knn] as const), k: Math.min(20, c.eval.monitorTrain, c.trainSize), randomInit: randomInitKnn,
    knnImages: [Math.min(c.eval.monitorTrain, c.trainSize), Math.min(c.eval.monitorTest, c.testSize)],
  });
  const svgFile = path.join(runDir, 'plot.svg');
  const pngFile = path.join(runDir, 'plot.png');
  writeFileAtomic(svgFile, svg);
  const { default: sharp } = await import('sharp');
  await sharp(Buffer.from(svg)).png().toFile(pngFile);
  return { svg: svgFile, png: pngFile };
}
