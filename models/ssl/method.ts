/**
 * The contract every self-supervised method implements, so one training loop (the CLI's
 * `webgrad train`) drives them all: the loop draws `views` augmented views of a batch with the
 * method's augmentation presets, calls `loss(views, progress)`, backpropagates, steps an optimizer
 * over `trainableParameters()`, then calls `afterStep(progress)` (momentum-encoder updates, queues,
 * centres). The backbone is what evaluation reads (pooled features).
 */
import type { Tensor } from '../../src/tensor.js';
import type { Module } from '../nn/module.js';

/** Where training is: the step about to be taken (0-based) out of the run's total. */
export interface StepProgress {
  step: number;
  totalSteps: number;
  epoch: number;
}

/** What a method reports after a step (scalars only; read back by the loop when it logs). */
export interface StepStats {
  /** Extra named scalars, e.g. the momentum used or the queue pointer. */
  [name: string]: number;
}

/** A self-supervised method: a Module holding its backbone, heads and any momentum copies or queues. */
export interface SSLMethod extends Module {
  /** Method name as the CLI spells it: 'simclr', 'moco-v2', 'byol', 'simsiam', ... */
  readonly methodName: string;
  /** The encoder whose pooled output is evaluated (kNN, linear probe). */
  readonly backbone: Module;
  /** Number of augmented views `loss` expects (2 for the four first methods). */
  readonly numViews: number;
  /**
   * The scalar loss of one step for `views` (each [N, C, H, W], already augmented and normalised).
   * Records the autograd graph; does not step anything.
   */
  loss(views: readonly Tensor[], progress: StepProgress): Tensor;
  /** Parameters the optimizer updates (momentum copies and frozen parts excluded). */
  trainableParameters(): Tensor[];
  /** Work after the optimizer step: momentum-encoder EMA, queue update, ... (no-op if none). */
  afterStep(progress: StepProgress): StepStats | void;
  /**
   * Optional: re-reads host-side copies of buffer state (the MoCo queue pointer) after a checkpoint
   * was loaded into the method (`loadStateDict`); await it before the next step of a resumed run.
   */
  afterLoad?(): Promise<void>;
}
