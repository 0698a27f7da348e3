/**
 * What a resumable run needs beyond the model's state dict: optimizers whose per-parameter step
 * count can continue from a checkpoint, and their state (momentum buffers, Adam moments) as host
 * tensors named `optimizer.<parameter name>.<slot>`. Browser-safe.
 *
 * Why subclasses: the flat optimizers count steps per parameter privately, and SGD's first step
 * (buf = g) and AdamW's bias correction read that count. A resumed run restores the buffers and
 * adds the checkpoint's step count to the private one through `stepOffset`, so the update after
 * `--resume` is the one the uninterrupted run makes (every trainable parameter has a gradient at
 * every step in these methods, so one count serves all parameters).
 */
import { tensor } from '../../src/creation.js';
import { copyInto } from '../../src/kernels/elementwise.js';
import type { Segment } from '../../src/kernels/optim.js';
import type { SafeTensor } from '../../src/safetensors.js';
import { fmt, sameShape } from '../../src/shape.js';
import type { Tensor } from '../../src/tensor.js';
import { AdamW, LARS, SGD, type AdamWOptions, type FlatOptimizer, type SGDOptions } from '../optim.js';
import type { OptimizerKind } from './config.js';

/** SGD that continues a checkpoint's step count (see the module comment). */
export class ResumableSGD extends SGD {
  /** Steps taken before this optimizer was built (from the checkpoint). */
  stepOffset = 0;
  protected override segment(h: Required<SGDOptions>, k: number, step: number): Partial<Segment> {
    return super.segment(h, k, step + this.stepOffset);
  }
}

/** AdamW that continues a checkpoint's step count (bias correction; see the module comment). */
export class ResumableAdamW extends AdamW {
  /** Steps taken before this optimizer was built (from the checkpoint). */
  stepOffset = 0;
  protected override segment(h: Required<AdamWOptions>, k: number, step: number): Partial<Segment> {
    return super.segment(h, k, step + this.stepOffset);
  }
}

/** LARS reads no step count; the field keeps the three interchangeable. */
export class ResumableLARS extends LARS {
  /** Steps taken before this optimizer was built (unused by LARS's update). */
  stepOffset = 0;
}

/** The optimizer of a run: a flat optimizer that can continue a checkpoint's step count. */
export type RunOptimizer = (ResumableSGD | ResumableAdamW | ResumableLARS) & FlatOptimizer<object>;

/** Hyperparameters of {@link createOptimizer}. */
export interface OptimizerSettings {
  lr: number;
  weightDecay: number;
  momentum: number;
}

/**
 * The optimizer `kind` over named parameters: SGD (momentum, weight decay on every parameter, as
 * the MoCo and SimSiam code), LARS (biases and norm parameters excluded from adaptation and decay,
 * as SimCLR and BYOL) or AdamW (PyTorch's betas).
 */
export function createOptimizer(kind: OptimizerKind, params: readonly (readonly [string, Tensor])[], s: OptimizerSettings): RunOptimizer {
  switch (kind) {
    case 'sgd': return new ResumableSGD(params, { lr: s.lr, momentum: s.momentum, weightDecay: s.weightDecay }) as RunOptimizer;
    case 'lars': return new ResumableLARS(params, { lr: s.lr, momentum: s.momentum, weightDecay: s.weightDecay }) as RunOptimizer;
    case 'adamw': return new ResumableAdamW(params, { lr: s.lr, weightDecay: s.weightDecay }) as RunOptimizer;
    default: throw new Error(`createOptimizer: unknown optimizer '${String(kind)}' (sgd, lars, adamw)`);
  }
}

/** Prefix of optimizer-state keys in a run checkpoint. */
export const OPTIMIZER_PREFIX = 'optimizer.';

/**
 * Reads the optimizer's state of every parameter back from the GPU as host tensors named
 * `optimizer.<name>.<slot>` (PyTorch's slot names: momentum_buffer, exp_avg, exp_avg_sq).
 */
export async function optimizerState(opt: RunOptimizer): Promise<[string, SafeTensor][]> {
  const out: [string, SafeTensor][] = [];
  for (const g of opt.groups) {
    for (let k = 0; k < g.params.length; k++) {
      const p = g.params[k];
      const name = g.names[k] ?? `#${k}`;
      const views = opt.state(p);
      for (const [slot, v] of Object.entries(views)) {
        out.push([`${OPTIMIZER_PREFIX}${name}.${slot}`, { dtype: 'F32', shape: [...v.shape], data: (await v.data()) as Float32Array }]);
        v.dispose();
      }
    }
  }
  return out;
}

/**
 * Writes checkpointed optimizer state (from {@link optimizerState}) into `opt` and continues its
 * step count from `steps`. Every key is checked first; one error lists the missing, unexpected and
 * mis-shaped ones.
 */
export function loadOptimizerState(opt: RunOptimizer, state: ReadonlyMap<string, SafeTensor>, steps: number): void {
  const targets: [string, Tensor][] = [];
  for (const g of opt.groups) {
    g.params.forEach((p, k) => {
      const name = g.names[k] ?? `#${k}`;
      for (const [slot, v] of Object.entries(opt.state(p))) targets.push([`${OPTIMIZER_PREFIX}${name}.${slot}`, v]);
    });
  }
  const own = new Set(targets.map(([k]) => k));
  const missing = targets.filter(([k]) => !state.has(k)).map(([k]) => k);
  const unexpected = [...state.keys()].filter((k) => !own.has(k));
  const shapes = targets.filter(([k, v]) => state.has(k) && !sameShape(state.get(k)!.shape, v.shape))
    .map(([k, v]) => `${k} (checkpoint ${fmt(state.get(k)!.shape)}, optimizer ${fmt(v.shape)})`);
  try {
    const problems = [
      missing.length ? `${missing.length} missing: ${missing.join(', ')}` : '',
      unexpected.length ? `${unexpected.length} unexpected: ${unexpected.join(', ')}` : '',
      shapes.length ? `mis-shaped: ${shapes.join(', ')}` : '',
    ].filter(Boolean);
    if (problems.length) throw new Error(`resume: the checkpoint's optimizer state does not match this optimizer: ${problems.join('; ')}`);
    for (const [k, v] of targets) {
      const s = state.get(k)!;
      if (s.dtype !== 'F32') throw new Error(`resume: optimizer state '${k}' is ${s.dtype}, expected F32`);
      const tmp = tensor(s.data as Float32Array, { shape: s.shape });
      copyInto(v, tmp);
      tmp.dispose();
    }
  } finally {
    for (const [, v] of targets) v.dispose();
  }
  opt.stepOffset = steps;
  opt.stepCount = steps;
}
