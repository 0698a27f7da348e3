/**
 * BYOL (Grill et al., NeurIPS 2020, arXiv:2006.07733; google-deepmind/deepmind-research/byol).
 * Online network f_θ → projector g_θ → predictor q_θ; target network f_ξ → g_ξ, an EMA of the
 * online one (ξ ← τ·ξ + (1 - τ)·θ, τ rising from τ_base to 1 on a cosine over training). The loss
 * is 2 - 2·cos(q_θ(z_θ), sg(z'_ξ)), symmetrised over the two views (byolLoss); each view goes
 * through the networks on its own, as the reference code.
 *
 * Paper defaults: projector Linear(2048, 4096)-BN-ReLU-Linear(4096, 256), predictor
 * Linear(256, 4096)-BN-ReLU-Linear(4096, 256), τ_base 0.996 (0.99 for 100-300 epochs), LARS
 * lr 0.2 × B/256 (1000 epochs; 0.3 for 300, 0.45 for 100), weight decay 1.5e-6, 10 warmup epochs
 * then cosine, batch 4096; asymmetric augmentations (blur p 1.0 / 0.1, solarise p 0 / 0.2).
 */
import { noGrad } from '../../autograd/index.js';
import type { Tensor } from '../../src/tensor.js';
import { PredictionHead, ProjectionHead } from '../heads.js';
import { Module } from '../nn/module.js';
import { byolLoss } from './losses.js';
import {
  MomentumUpdater, checkViews, headSizes, momentumCopy, pooledFeatures, resolveBackbone, trainable,
  type Backbone, type BaseMethodOptions, type MomentumOptions,
} from './common.js';
import type { SSLMethod, StepProgress, StepStats } from './method.js';

/** Options of {@link BYOL}; `backbone` must be a factory (the target network is a second instance). */
export interface BYOLOptions extends BaseMethodOptions {
  /** Projector hidden width (default 4096). */
  projectionHidden?: number;
  /** Projection width z (default 256). */
  projectionOut?: number;
  /** Predictor hidden width (default 4096). */
  predictionHidden?: number;
  /** τ_base, the target momentum at step 0 (default 0.996). */
  momentum?: number;
  /** 'cosine' (default, the paper: τ rises to 1) or 'constant'. */
  momentumSchedule?: MomentumOptions['schedule'];
}

/** BYOL: online encoder + projector + predictor regressing an EMA target's projections. */
export class BYOL extends Module implements SSLMethod {
  readonly methodName = 'byol';
  readonly numViews = 2;
  readonly backbone: Backbone;
  readonly projectionHead: ProjectionHead;
  readonly predictionHead: PredictionHead;
  readonly backboneMomentum: Backbone;
  readonly projectionHeadMomentum: ProjectionHead;
  readonly #ema: MomentumUpdater;

  constructor(o: BYOLOptions) {
    super();
    const { backbone, featureDim, factory } = resolveBackbone('BYOL', o);
    if (!factory) throw new Error('BYOL: options.backbone must be a factory () => backbone, to build the target network');
    const out = o.projectionOut ?? 256;
    const proj = headSizes('BYOL', featureDim, o.projectionHidden ?? 4096, out, 2);
    const head = () => new ProjectionHead(proj, { generator: o.generator });
    this.backbone = backbone;
    this.projectionHead = head();
    this.predictionHead = new PredictionHead(headSizes('BYOL', out, o.predictionHidden ?? 4096, out, 2), { generator: o.generator });
    this.backboneMomentum = momentumCopy(backbone, factory);
    this.projectionHeadMomentum = momentumCopy(this.projectionHead, head);
    this.#ema = new MomentumUpdater(
      [[this.backboneMomentum, this.backbone], [this.projectionHeadMomentum, this.projectionHead]],
      { base: o.momentum ?? 0.996, schedule: o.momentumSchedule ?? 'cosine' },
    );
  }

  /** byolLoss(p1, p2, sg(z'1), sg(z'2)): each view's prediction regresses the other view's target projection. */
  loss(views: readonly Tensor[], _progress?: StepProgress): Tensor {
    const [x1, x2] = checkViews('BYOL.loss', views, 2);
    const p = (x: Tensor) => this.predictionHead.forward(this.projectionHead.forward(pooledFeatures(this.backbone, x)));
    const z = (x: Tensor) => noGrad(() => this.projectionHeadMomentum.forward(pooledFeatures(this.backboneMomentum, x)));
    return byolLoss(p(x1), p(x2), z(x1), z(x2));
  }

  /** Online encoder, projector and predictor parameters that require grad (the target is excluded). */
  trainableParameters(): Tensor[] {
    return trainable(this.backbone, this.projectionHead, this.predictionHead);
  }

  /** EMA of the target network with τ from the cosine schedule. */
  afterStep(progress: StepProgress): StepStats {
    return { momentum: this.#ema.update(progress) };
  }
}
