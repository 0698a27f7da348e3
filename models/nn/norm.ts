/**
 * Normalisation layers with PyTorch's names, defaults and state dicts: BatchNorm1d, BatchNorm2d
 * (weight, bias, running_mean, running_var, num_batches_tracked) and LayerNorm (weight, bias).
 * num_batches_tracked is an i32 buffer of shape [] (PyTorch's I64 checkpoints load into it).
 */
import { batchNorm, layerNorm } from '../../autograd/index.js';
import { full } from '../../src/creation.js';
import { fmt } from '../../src/shape.js';
import type { Tensor } from '../../src/tensor.js';
import { ones, zeros } from './init.js';
import { Module, buffer, param } from './module.js';

/** Options of {@link BatchNorm1d} and {@link BatchNorm2d} (nn.BatchNorm*d's keyword arguments). */
export interface BatchNormLayerOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Weight of each new batch in the running statistics (default 0.1); null: cumulative average. */
  momentum?: number | null;
  /** Learnable weight (init 1) and bias (init 0) per channel (default true). */
  affine?: boolean;
  /** Keep running statistics for eval mode (default true); without them eval uses batch statistics. */
  trackRunningStats?: boolean;
}

/** Shared by BatchNorm1d and BatchNorm2d: they differ only in the input ranks they accept. */
abstract class BatchNorm extends Module {
  readonly weight: Tensor | null; // [C]
  readonly bias: Tensor | null; // [C]
  readonly runningMean: Tensor | null; // [C]
  readonly runningVar: Tensor | null; // [C]
  readonly numBatchesTracked: Tensor | null; // [] i32
  readonly eps: number;
  readonly momentum: number | null;

  constructor(readonly numFeatures: number, { eps = 1e-5, momentum = 0.1, affine = true, trackRunningStats = true }: BatchNormLayerOptions = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new Error(`${new.target.name}: numFeatures must be a positive integer, got ${numFeatures}`);
    if (momentum !== null && !(momentum >= 0 && momentum <= 1)) throw new Error(`${new.target.name}: momentum must be in [0, 1] or null, got ${momentum}`);
    this.eps = eps;
    this.momentum = momentum;
    this.weight = affine ? param(ones([numFeatures])) : null;
    this.bias = affine ? param(zeros([numFeatures])) : null;
    this.runningMean = trackRunningStats ? buffer(zeros([numFeatures])) : null;
    this.runningVar = trackRunningStats ? buffer(ones([numFeatures])) : null;
    this.numBatchesTracked = trackRunningStats ? buffer(full([], 0, 'i32')) : null;
  }

  /** Input ranks this layer accepts, and their description for errors. */
  protected abstract readonly ranks: readonly number[];
  protected abstract readonly layout: string;

  /**
   * Normalises per channel (dim 1). Training mode uses the batch's statistics and updates the
   * running ones in place; eval mode uses the running ones (the batch's when not tracked).
   */
  forward(x: Tensor): Tensor {
    const name = `${this.constructor.name}(${this.numFeatures})`;
    if (!this.ranks.includes(x.rank) || x.shape[1] !== this.numFeatures) {
      throw new Error(`${name}: expected input ${this.layout} with C = ${this.numFeatures}, got ${fmt(x.shape)}`);
    }
    const batchStats = this.training || !this.runningMean;
    return batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, {
      training: batchStats, momentum: this.momentum, eps: this.eps, numBatchesTracked: this.numBatchesTracked,
    });
  }
}

/** nn.BatchNorm1d: input [N, C] or [N, C, L], statistics per channel over N (and L). */
export class BatchNorm1d extends BatchNorm {
  protected readonly ranks = [2, 3];
  protected readonly layout = '[N, C] or [N, C, L]';
}

/** nn.BatchNorm2d: input [N, C, H, W], statistics per channel over N, H and W. */
export class BatchNorm2d extends BatchNorm {
  protected readonly ranks = [4];
  protected readonly layout = '[N, C, H, W]';
}

/** Options of {@link LayerNorm}. */
export interface LayerNormOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** Learnable weight (init 1) and bias (init 0) of normalizedShape (default true). */
  elementwiseAffine?: boolean;
  /** With elementwiseAffine, also the bias (default true; PyTorch >= 2.1's `bias=False`). */
  bias?: boolean;
}

/** nn.LayerNorm: normalises over the trailing `normalizedShape` dims (a number: the last dim). */
export class LayerNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly normalizedShape: readonly number[];
  readonly eps: number;

  constructor(normalizedShape: number | readonly number[], { eps = 1e-5, elementwiseAffine = true, bias = true }: LayerNormOptions = {}) {
    super();
    const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    if (shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new Error(`LayerNorm: normalizedShape must be positive integers, got ${fmt(shape)}`);
    }
    this.normalizedShape = shape;
    this.eps = eps;
    this.weight = elementwiseAffine ? param(ones(shape)) : null;
    this.bias = elementwiseAffine && bias ? param(zeros(shape)) : null;
  }

  /** x: [..., ...normalizedShape] -> the same shape. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}
