/**
 * MoCo v2 (Chen, Fan, Girshick, He 2020, arXiv:2003.04297; v1: He et al., CVPR 2020,
 * arXiv:1911.05722; facebookresearch/moco). Queries q = g(f(x_q)) come from the online encoder;
 * keys k = g_k(f_k(x_k)) from its momentum copy (θ_k ← m·θ_k + (1 - m)·θ_q, no gradient); the
 * loss is the (1+K)-way cross-entropy of [q·k₊, q·queue] / τ (fused mocoLoss), and after each
 * step the keys enter a FIFO queue of K negatives (oldest out).
 *
 * Paper defaults: MLP head Linear(2048, 2048)-ReLU-Linear(2048, 128) (no BN), τ = 0.2,
 * K = 65536, m = 0.999 (constant), SGD lr 0.03 × B/256 (0.03 at B = 256), momentum 0.9, weight
 * decay 1e-4, cosine schedule, 200 epochs; "aug+" (crop 0.2-1, jitter 0.4/0.4/0.4/0.1 p 0.8,
 * grayscale 0.2, blur p 0.5, flip). The paper's loss is one-directional; `symmetric` adds the
 * swapped pair (sum of both, as the MoCo CIFAR demo) and enqueues both key sets.
 *
 * Shuffle-BN is not done. It exists because, across GPUs, each sub-batch's BatchNorm statistics
 * let a query find its key; on one device the whole batch shares one set of statistics, which is
 * why it is not needed here. (A weak residue remains: the positive key shares the current batch's
 * statistics while queued negatives come from earlier batches; the MoCo single-GPU demo emulates
 * shuffle-BN with split BN for that reason, at small batches.)
 */
import { noGrad } from '../../autograd/index.js';
import { mocoLoss } from '../../autograd/ops/contrastive.js';
import { concat } from '../../autograd/ops/shape.js';
import { keep } from '../../src/scope.js';
import type { Tensor } from '../../src/tensor.js';
import { ProjectionHead } from '../heads.js';
import { Module } from '../nn/module.js';
import {
  KeyQueue, MomentumUpdater, checkViews, headSizes, momentumCopy, pooledFeatures, resolveBackbone, symmetricLoss, trainable,
  type Backbone, type BaseMethodOptions, type MomentumOptions,
} from './common.js';
import type { SSLMethod, StepProgress, StepStats } from './method.js';

/** Options of {@link MoCo}; `backbone` must be a factory (the key encoder is a second instance). */
export interface MoCoOptions extends BaseMethodOptions {
  /** Hidden width of the MLP head (default: the backbone's feature dim, as the paper's 2048). */
  projectionHidden?: number;
  /** Key/query width C (default 128). */
  projectionOut?: number;
  /** Queue length K (default 65536); must hold at least one step's keys. */
  queueSize?: number;
  /** τ (default 0.2). */
  temperature?: number;
  /** Key-encoder momentum m (default 0.999). */
  momentum?: number;
  /** 'constant' (default, the paper) or 'cosine' (m rising to 1, as BYOL / MoCo v3). */
  momentumSchedule?: MomentumOptions['schedule'];
  /** Also contrast view 2's queries with view 1's keys (default false). */
  symmetric?: boolean;
}

/** MoCo v2: query encoder + MLP head, momentum key encoder, queue of negatives. */
export class MoCo extends Module implements SSLMethod {
  readonly methodName = 'moco-v2';
  readonly numViews = 2;
  readonly backbone: Backbone;
  readonly projectionHead: ProjectionHead;
  readonly backboneMomentum: Backbone;
  readonly projectionHeadMomentum: ProjectionHead;
  readonly queue: KeyQueue;
  readonly temperature: number;
  readonly symmetric: boolean;
  readonly #ema: MomentumUpdater;
  #pending: Tensor | null = null; // this step's keys, enqueued by afterStep

  constructor(o: MoCoOptions) {
    super();
    const { backbone, featureDim, factory } = resolveBackbone('MoCo', o);
    if (!factory) throw new Error('MoCo: options.backbone must be a factory () => backbone, to build the momentum key encoder');
    const out = o.projectionOut ?? 128;
    const sizes = headSizes('MoCo', featureDim, o.projectionHidden ?? featureDim, out, 2);
    const head = () => new ProjectionHead(sizes, { batchNorm: false, generator: o.generator });
    this.backbone = backbone;
    this.projectionHead = head();
    this.backboneMomentum = momentumCopy(backbone, factory);
    this.projectionHeadMomentum = momentumCopy(this.projectionHead, head);
    this.queue = new KeyQueue(out, o.queueSize ?? 65536, { generator: o.generator });
    this.temperature = o.temperature ?? 0.2;
    this.symmetric = o.symmetric ?? false;
    if (!(this.temperature > 0)) throw new Error(`MoCo: temperature must be > 0, got ${this.temperature}`);
    this.#ema = new MomentumUpdater(
      [[this.backboneMomentum, this.backbone], [this.projectionHeadMomentum, this.projectionHead]],
      { base: o.momentum ?? 0.999, schedule: o.momentumSchedule ?? 'constant' },
    );
  }

  /** Contrastive loss of queries from view 1 (and view 2 when symmetric) against keys of the other view and the queue. */
  loss(views: readonly Tensor[], _progress?: StepProgress): Tensor {
    const [x1, x2] = checkViews('MoCo.loss', views, 2);
    const q = (x: Tensor) => this.projectionHead.forward(pooledFeatures(this.backbone, x));
    const k = (x: Tensor) => noGrad(() => this.projectionHeadMomentum.forward(pooledFeatures(this.backboneMomentum, x)));
    const ctr = (qi: Tensor, ki: Tensor) => mocoLoss(qi, ki, this.queue.queue, { temperature: this.temperature });
    const k2 = k(x2);
    const keys = this.symmetric ? [k(x1), k2] : [k2];
    const loss = this.symmetric ? symmetricLoss(ctr, q(x1), q(x2), keys[0], k2) : ctr(q(x1), k2);
    this.#pending?.dispose();
    this.#pending = keep(keys.length > 1 ? noGrad(() => concat(keys, 0)) : keys[0]);
    return loss;
  }

  /** Query encoder and head parameters that require grad (the key encoder is excluded). */
  trainableParameters(): Tensor[] {
    return trainable(this.backbone, this.projectionHead);
  }

  /** EMA of the key encoder, then the step's keys into the queue. */
  afterStep(progress: StepProgress): StepStats {
    const momentum = this.#ema.update(progress);
    if (this.#pending) {
      this.queue.push(this.#pending);
      this.#pending.dispose();
      this.#pending = null;
    }
    return { momentum, queuePtr: this.queue.ptr };
  }

  /** Re-reads the queue pointer after a checkpoint was loaded. */
  async afterLoad(): Promise<void> {
    await this.queue.syncPointer();
  }
}
