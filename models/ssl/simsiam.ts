/**
 * SimSiam (Chen & He, CVPR 2021, arXiv:2011.10566; facebookresearch/simsiam). One encoder f with
 * a projector, a predictor h on top, and L = ½·D(p1, sg(z2)) + ½·D(p2, sg(z1)) with
 * D(p, z) = -cos(p, z) (simsiamLoss): no negatives, no momentum encoder; the stop-gradient and
 * the predictor are what prevent collapse. Each view goes through the networks on its own.
 *
 * Paper defaults: projector 3 × Linear(2048, 2048) with BN on every layer (the last without
 * affine parameters), predictor Linear(2048, 512)-BN-ReLU-Linear(512, 2048), SGD lr 0.05 × B/256,
 * momentum 0.9, weight decay 1e-4, batch 512, cosine schedule with the predictor's lr kept fixed
 * (`--fix-pred-lr`: give {@link SimSiam.predictionHead}'s parameters their own constant-lr group),
 * 100-800 epochs; MoCo v2 augmentations. CIFAR: lr 0.03 × B/256, weight decay 5e-4.
 */
import type { Tensor } from '../../src/tensor.js';
import { PredictionHead, ProjectionHead } from '../heads.js';
import { Module } from '../nn/module.js';
import { simsiamLoss } from './losses.js';
import { checkViews, headSizes, pooledFeatures, resolveBackbone, trainable, type Backbone, type BaseMethodOptions } from './common.js';
import type { SSLMethod, StepProgress, StepStats } from './method.js';

/** Options of {@link SimSiam}. */
export interface SimSiamOptions extends BaseMethodOptions {
  /** Projector hidden width (default: the backbone's feature dim, as the paper's 2048). */
  projectionHidden?: number;
  /** Projection width z (default 2048). */
  projectionOut?: number;
  /** Linear layers in the projector (default 3; 2 for CIFAR in the paper). */
  projectionLayers?: number;
  /** Predictor bottleneck width (default projectionOut / 4, the paper's 512 for 2048). */
  predictionHidden?: number;
}

/** SimSiam: encoder + projector (BN on every layer) + bottleneck predictor, symmetric negative cosine with stop-gradient. */
export class SimSiam extends Module implements SSLMethod {
  readonly methodName = 'simsiam';
  readonly numViews = 2;
  readonly backbone: Backbone;
  readonly projectionHead: ProjectionHead;
  readonly predictionHead: PredictionHead;

  constructor(o: SimSiamOptions) {
    super();
    const { backbone, featureDim } = resolveBackbone('SimSiam', o);
    const out = o.projectionOut ?? 2048;
    const proj = headSizes('SimSiam', featureDim, o.projectionHidden ?? featureDim, out, o.projectionLayers ?? 3);
    this.backbone = backbone;
    this.projectionHead = new ProjectionHead(proj, { lastBatchNorm: true, generator: o.generator });
    const hidden = o.predictionHidden ?? Math.max(1, Math.round(out / 4));
    this.predictionHead = new PredictionHead([out, hidden, out], { generator: o.generator });
  }

  /** ½·D(p1, sg(z2)) + ½·D(p2, sg(z1)) with z = g(f(x)), p = h(z). */
  loss(views: readonly Tensor[], _progress?: StepProgress): Tensor {
    const [x1, x2] = checkViews('SimSiam.loss', views, 2);
    const z1 = this.projectionHead.forward(pooledFeatures(this.backbone, x1));
    const z2 = this.projectionHead.forward(pooledFeatures(this.backbone, x2));
    return simsiamLoss(this.predictionHead.forward(z1), this.predictionHead.forward(z2), z1, z2);
  }

  /** Encoder, projector and predictor parameters that require grad. */
  trainableParameters(): Tensor[] {
    return trainable(this.backbone, this.projectionHead, this.predictionHead);
  }

  /** Nothing to do after a step. */
  afterStep(_progress?: StepProgress): StepStats | void {}
}
