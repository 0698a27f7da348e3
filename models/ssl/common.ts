/**
 * Parts the method files share (lightly's `modules/` in spirit):
 *  - {@link momentumCopy} and {@link MomentumUpdater}: an EMA target network (MoCo's key encoder,
 *    BYOL's target) built by the online network's factory, loaded with its values, frozen, and
 *    moved by θ_t ← m·θ_t + (1 - m)·θ_o after each optimizer step with m constant or rising to 1
 *    on BYOL's cosine schedule (parameters only; BN statistics come from the target's own passes);
 *  - {@link KeyQueue}: MoCo's FIFO of normalised keys, a [C, K] buffer and its pointer;
 *  - {@link stopGradient}, {@link symmetricLoss}, {@link pooledFeatures}, {@link inferFeatureDim}.
 */
import { add, detach, mul, noGrad, normalize, transpose } from '../../autograd/index.js';
import { enqueue } from '../../autograd/ops/contrastive.js';
import { zeros } from '../../src/creation.js';
import { copy, fillInto } from '../../src/kernels/elementwise.js';
import { randn, type Generator } from '../../src/random.js';
import { scope } from '../../src/scope.js';
import { fmt } from '../../src/shape.js';
import type { Tensor } from '../../src/tensor.js';
import { emaUpdate } from '../ema.js';
import type { Backbone } from '../eval.js';
import { Module, buffer } from '../nn/module.js';
import { flattenParams } from '../optim.js';
import { emaMomentum } from '../schedules.js';
import type { StepProgress } from './method.js';

/** A backbone as the methods use it (models/eval.ts): `features(x)` if present, else `forward(x)`, gives pooled [N, D]. */
export type { Backbone };

/** A backbone, or a factory of identical-structure backbones (methods with a momentum copy need the factory). */
export type BackboneSource<B extends Backbone = Backbone> = B | (() => B);

/** The pooled feature [N, D] of `net` for x [N, C, H, W]: `features(x)` when it has one, else `forward(x)`. */
export function pooledFeatures(net: Backbone, x: Tensor): Tensor {
  const h = typeof net.features === 'function' ? net.features(x) : net.forward(x);
  if (h.rank !== 2) throw new Error(`${net.constructor.name}: expected pooled features [N, D], got ${fmt(h.shape)} (a ViT needs numClasses 0)`);
  return h;
}

/** The pooled width of `net`: `given` if set, else `featureDim` (ResNet) or `embedDim` (ViT). */
export function inferFeatureDim(op: string, net: Backbone, given?: number): number {
  const d = given ?? (net as { featureDim?: number }).featureDim ?? (net as { embedDim?: number }).embedDim;
  if (!(Number.isInteger(d) && d! > 0)) throw new Error(`${op}: cannot infer the backbone's feature dim from ${net.constructor.name}; pass featureDim`);
  return d!;
}

/** Options every method takes: the backbone (or its factory) and, if not inferable, its pooled width. */
export interface BaseMethodOptions {
  /** The encoder, or a factory of identical-structure encoders (MoCo and BYOL need a factory for their momentum copy). */
  backbone: BackboneSource;
  /** The backbone's pooled output width (default: its `featureDim` or `embedDim`). */
  featureDim?: number;
  /** The random stream for the heads' initial weights and the queue (default: the global generator). */
  generator?: Generator;
}

/** Resolves a {@link BackboneSource}: the backbone, its width, and the factory if one was given. */
export function resolveBackbone(op: string, o: BaseMethodOptions): { backbone: Backbone; featureDim: number; factory: (() => Backbone) | null } {
  if (!o || !o.backbone) throw new Error(`${op}: options.backbone (a module or a factory of modules) is required`);
  const factory = typeof o.backbone === 'function' ? (o.backbone as () => Backbone) : null;
  const backbone = factory ? factory() : (o.backbone as Backbone);
  if (typeof backbone?.forward !== 'function') throw new Error(`${op}: the backbone has no forward(x); got ${String(backbone)}`);
  return { backbone, featureDim: inferFeatureDim(op, backbone, o.featureDim), factory };
}

/** MLP sizes [in, hidden × (layers - 1), out] for a head of `layers` Linear layers. */
export function headSizes(op: string, inDim: number, hidden: number, out: number, layers: number): number[] {
  if (!(Number.isInteger(layers) && layers >= 1)) throw new Error(`${op}: head layers must be an integer >= 1, got ${layers}`);
  return [inDim, ...Array<number>(layers - 1).fill(hidden), out];
}

/** Checks a method got `n` views [N, C, H, W] of one shape; returns them. */
export function checkViews(op: string, views: readonly Tensor[], n: number): Tensor[] {
  const s = views[0]?.shape;
  if (views.length !== n || !s || s.length !== 4 || views.some((v) => v.rank !== 4 || v.shape.some((d, i) => d !== s[i]))) {
    throw new Error(`${op}: expects ${n} views of one shape [N, C, H, W], got ${views.length}: ${views.map((v) => fmt(v.shape)).join(', ')}`);
  }
  return [...views];
}

/** The parameters of `modules` that require grad (frozen parts such as a ViT's fixed patch projection excluded), each once. */
export function trainable(...modules: Module[]): Tensor[] {
  return [...new Set(modules.flatMap((m) => m.parameters()))].filter((p) => p.requiresGrad);
}

/** Stop-gradient sg(x): the same values, cut from the graph (a view; no copy). */
export const stopGradient = (x: Tensor): Tensor => detach(x);

/**
 * A two-view loss made symmetric: f(a1, b2) + f(a2, b1) (MoCo's symmetrised form, BYOL's
 * L(v, v') + L(v', v)), halved when `average` (SimSiam's ½D + ½D).
 */
export function symmetricLoss(f: (a: Tensor, b: Tensor) => Tensor, a1: Tensor, a2: Tensor, b1: Tensor, b2: Tensor, average = false): Tensor {
  const s = add(f(a1, b2), f(a2, b1));
  return average ? mul(s, 0.5) : s;
}

/**
 * A momentum copy of `online`: `factory()` (same structure), then `copyFrom(online)`, every
 * parameter frozen (requiresGrad false). Returns the copy; its parameter names are the online's.
 */
export function momentumCopy<M extends Module>(online: M, factory: () => M): M {
  const target = factory();
  if (target === online) throw new Error(`momentumCopy(${online.constructor.name}): the factory returned the online module itself; it must build a new one`);
  target.copyFrom(online);
  for (const p of target.parameters()) p.requiresGrad = false;
  return target;
}

/** Options of {@link MomentumUpdater}. */
export interface MomentumOptions {
  /** m at step 0 (MoCo 0.999, BYOL 0.99-0.996). */
  base: number;
  /** 'cosine' (BYOL: 1 - (1 - base)(cos(πk/K) + 1)/2, reaching `end` at the last step) or 'constant' (MoCo v1/v2). */
  schedule?: 'cosine' | 'constant';
  /** The cosine's end value (default 1). */
  end?: number;
}

/**
 * EMA of target modules towards online modules of the same structure, pairing parameters by
 * name. The target parameters are moved into one flat buffer, so when the optimizer holds the
 * online ones in the same order (one group) the update is a single fused dispatch.
 */
export class MomentumUpdater {
  readonly #target: Tensor[] = [];
  readonly #online: Tensor[] = [];
  readonly options: Required<MomentumOptions>;

  constructor(pairs: readonly (readonly [target: Module, online: Module])[], { base, schedule = 'cosine', end = 1 }: MomentumOptions) {
    if (!(base >= 0 && base <= 1 && end >= 0 && end <= 1)) throw new Error(`MomentumUpdater: momentum must be in [0, 1], got base ${base}, end ${end}`);
    if (schedule !== 'cosine' && schedule !== 'constant') throw new Error(`MomentumUpdater: schedule must be 'cosine' or 'constant', got '${String(schedule)}'`);
    this.options = { base, schedule, end };
    for (const [t, o] of pairs) {
      const tp = t.namedParameters();
      const op = new Map(o.namedParameters());
      if (tp.length !== op.size) throw new Error(`MomentumUpdater: target ${t.constructor.name} has ${tp.length} parameters, online ${o.constructor.name} ${op.size}`);
      for (const [n, p] of tp) {
        const q = op.get(n);
        if (!q || q.size !== p.size) throw new Error(`MomentumUpdater: target parameter '${n}' ${fmt(p.shape)} has no online twin of that shape`);
        this.#target.push(p);
        this.#online.push(q);
      }
    }
    if (this.#target.length) flattenParams(this.#target).dispose();
  }

  /** The momentum for the step `p` has just taken. */
  momentum(p: StepProgress): number {
    const { base, schedule, end } = this.options;
    return schedule === 'constant' ? base : emaMomentum(base, p.step, Math.max(1, p.totalSteps), end);
  }

  /** θ_t ← m·θ_t + (1 - m)·θ_o with m = momentum(p); returns m. */
  update(p: StepProgress): number {
    const m = this.momentum(p);
    emaUpdate(this.#target, this.#online, m);
    return m;
  }
}

/**
 * MoCo's FIFO queue of keys: `queue` [C, K] (feature-major, as the MoCo code; random unit
 * columns at start) and `queue_ptr` (i32 [1], saved in checkpoints), with a host copy of the
 * pointer. `push(keys)` writes L2-normalised keys [N, C] at the pointer (fused enqueue kernel)
 * and advances it mod K.
 */
export class KeyQueue extends Module {
  readonly queue: Tensor; // [C, K]
  readonly queuePtr: Tensor; // i32 [1]
  #ptr = 0;

  constructor(readonly dim: number, readonly size: number, { generator }: { generator?: Generator } = {}) {
    super();
    if (!(Number.isInteger(dim) && dim > 0 && Number.isInteger(size) && size > 0)) {
      throw new Error(`KeyQueue: dim and size must be positive integers, got dim ${dim}, size ${size}`);
    }
    this.queue = buffer(noGrad(() => scope(() => copy(transpose(normalize(randn([size, dim], { generator })), 0, 1)))));
    this.queuePtr = buffer(zeros([1], 'i32'));
  }

  /** The column the next key goes to. */
  get ptr(): number {
    return this.#ptr;
  }

  /** Enqueues keys [N, C] (normalised here; N <= K) at the pointer, oldest first out; returns the new pointer. */
  push(keys: Tensor): number {
    if (keys.rank !== 2 || keys.shape[1] !== this.dim || keys.shape[0] > this.size) {
      throw new Error(`KeyQueue.push: keys ${fmt(keys.shape)} must be [N <= ${this.size}, ${this.dim}]`);
    }
    noGrad(() => scope(() => {
      this.#ptr = enqueue(this.queue, normalize(keys), this.#ptr);
      fillInto(this.queuePtr, this.#ptr);
    }));
    return this.#ptr;
  }

  /** Re-reads the host pointer from `queue_ptr` (after a checkpoint was loaded into the module). */
  async syncPointer(): Promise<number> {
    const v = (await this.queuePtr.data())[0];
    if (!(Number.isInteger(v) && v >= 0 && v < this.size)) throw new Error(`KeyQueue: loaded queue_ptr ${v} is not in [0, ${this.size})`);
    this.#ptr = v;
    return v;
  }
}
