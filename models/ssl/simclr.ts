/**
 * SimCLR (Chen, Kornblith, Norouzi, Hinton, ICML 2020, arXiv:2002.05709; google-research/simclr).
 * Both views go through one encoder f and projection MLP g in a single batch of 2N (as the
 * reference code, so BatchNorm sees both views), and the NT-Xent loss (fused ntXent) contrasts
 * each z_i with its other view against the 2(N-1) other embeddings.
 *
 * Paper defaults: projector Linear(2048, 2048)-BN-ReLU-Linear(2048, 128) (v1; v2 uses 3 layers),
 * τ = 0.1 at batch 4096 (0.5 in the CIFAR recipe), LARS lr 0.3 × B/256 (or 0.075 × √B),
 * weight decay 1e-6 (1e-4 in the repo's commands), 10 warmup epochs then cosine, 100-1000 epochs;
 * augmentations: crop 0.08-1, flip, colour jitter 0.8 s with p 0.8, grayscale 0.2, blur (ImageNet).
 */
import { concat } from '../../autograd/index.js';
import { ntXent } from '../../autograd/ops/contrastive.js';
import type { Tensor } from '../../src/tensor.js';
import { ProjectionHead } from '../heads.js';
import { Module } from '../nn/module.js';
import { checkViews, headSizes, pooledFeatures, resolveBackbone, trainable, type Backbone, type BaseMethodOptions } from './common.js';
import type { SSLMethod, StepProgress, StepStats } from './method.js';

/** Options of {@link SimCLR}. */
export interface SimCLROptions extends BaseMethodOptions {
  /** Hidden width of the projector (default: the backbone's feature dim, as the paper's 2048). */
  projectionHidden?: number;
  /** Output width z (default 128). */
  projectionOut?: number;
  /** Linear layers in the projector (default 2, v1; SimCLR v2 uses 3). */
  projectionLayers?: number;
  /** NT-Xent τ (default 0.5, the CIFAR recipe; 0.1 for large batches). */
  temperature?: number;
}

/** SimCLR: encoder + projection MLP + NT-Xent over the 2N embeddings of a batch's two views. */
export class SimCLR extends Module implements SSLMethod {
  readonly methodName = 'simclr';
  readonly numViews = 2;
  readonly backbone: Backbone;
  readonly projectionHead: ProjectionHead;
  readonly temperature: number;

  constructor(o: SimCLROptions) {
    super();
    const { backbone, featureDim } = resolveBackbone('SimCLR', o);
    this.backbone = backbone;
    const sizes = headSizes('SimCLR', featureDim, o.projectionHidden ?? featureDim, o.projectionOut ?? 128, o.projectionLayers ?? 2);
    this.projectionHead = new ProjectionHead(sizes, { generator: o.generator });
    this.temperature = o.temperature ?? 0.5;
    if (!(this.temperature > 0)) throw new Error(`SimCLR: temperature must be > 0, got ${this.temperature}`);
  }

  /** NT-Xent of g(f(cat(view1, view2))) [2N, out]. */
  loss(views: readonly Tensor[], _progress?: StepProgress): Tensor {
    const x = concat(checkViews('SimCLR.loss', views, 2), 0);
    const z = this.projectionHead.forward(pooledFeatures(this.backbone, x));
    return ntXent(z, { temperature: this.temperature });
  }

  /** Backbone and projector parameters that require grad. */
  trainableParameters(): Tensor[] {
    return trainable(this.backbone, this.projectionHead);
  }

  /** Nothing to do after a step (no momentum copy, no queue). */
  afterStep(_progress?: StepProgress): StepStats | void {}
}
