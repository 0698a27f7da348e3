/**
 * Optimizers as fused GPU kernels over flat parameter groups (shaders/optim.wgsl): SGD, AdamW and
 * LARS with PyTorch's (and, for LARS, SimCLR's and BYOL's) semantics; gradient clipping by global
 * norm; and `flattenParams`, which lets `emaUpdate` (models/ema.ts) update a whole network in one
 * dispatch.
 *
 * Flat groups. At construction each group's parameters are copied into ONE flat buffer and every
 * parameter tensor is `rebind`-ed onto its slice: the objects modules hold stay the same and see
 * every update. Each `step()` then, per group: gathers the gradients into the group's flat gradient
 * buffer (one buffer-to-buffer copy per parameter, which is not a dispatch; a non-contiguous
 * gradient costs one elementwise copy dispatch), uploads a small segment table (one row per
 * parameter), and records ONE update dispatch. LARS computes each parameter's norms ‖w‖ and
 * ‖g + wd·w‖ inside that same dispatch (one workgroup per parameter: a reduction, then the
 * update), so it is one dispatch per group too. State (momentum buffers, Adam moments) lives in
 * flat buffers as well; `state(p)` gives views of a parameter's slice.
 *
 * Missing gradients. A parameter whose `.grad` is null in a step is skipped as PyTorch skips
 * `p.grad is None`: it gets no weight decay, its state does not change, and its own step count
 * (AdamW's bias correction; SGD's first-step momentum buffer = gradient) does not advance. A zero
 * gradient is different: it is a real step (decay and momentum apply), as in PyTorch.
 */
import { noGrad } from '../autograd/grad_mode.js';
import { zeros } from '../src/creation.js';
import { copy } from '../src/kernels/elementwise.js';
import {
  clipByGlobalNorm, gatherInto, launchAdamW, launchLars, launchSgd, segmentTable,
  SEG_ACTIVE, SEG_EXCLUDED, SEG_FIRST, type Segment,
} from '../src/kernels/optim.js';
import { keep } from '../src/scope.js';
import { fmt, sameShape, stridesOf } from '../src/shape.js';
import { Tensor } from '../src/tensor.js';

/** A parameter, or a `[name, parameter]` pair (names reach `exclude` predicates and errors). */
export type ParamEntry = Tensor | readonly [string, Tensor];

/** A parameter group: its parameters, and hyperparameters that override the optimizer's. */
export type ParamGroupSpec<H> = { params: Iterable<ParamEntry> } & Partial<H>;

/** A live group: hyperparameters (change them between steps for schedules) and its parameters. */
export type ParamGroup<H> = H & { readonly params: readonly Tensor[]; readonly names: readonly (string | undefined)[] };

/** What each group owns on the GPU, and its per-parameter bookkeeping. */
interface Flat {
  param: Tensor; // [n], the storage every parameter of the group is rebound onto
  grad: Tensor; // [n], gradients gathered before each update
  state: Map<string, Tensor>; // slot -> [n]
  starts: number[];
  steps: number[]; // steps in which each parameter had a gradient
}

/** Flat buffer owning each parameter, so two optimizers cannot silently split one parameter. */
const owners = new WeakMap<Tensor, Tensor>();

/** The entries of `o` whose value is not undefined (so `{ lr: undefined }` keeps the default). */
const definedOf = (o: object) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

const label = (p: Tensor, name: string | undefined) => (name ? `'${name}' ${fmt(p.shape)}` : `#${p.id} ${fmt(p.shape)}`);

/** Throws unless every tensor can be moved into a flat buffer (checked before any is moved). */
function checkParams(op: string, params: readonly Tensor[], names: readonly (string | undefined)[]): void {
  params.forEach((p, k) => {
    if (!(p instanceof Tensor)) throw new Error(`${op}: entry ${k} is not a tensor`);
    const what = label(p, names[k]);
    if (p.disposed) throw new Error(`${op}: parameter ${what} was disposed`);
    if (p.dtype !== 'f32') throw new Error(`${op}: parameter ${what} is ${p.dtype}; only f32 parameters can be optimized`);
    if (!p.isContiguous) throw new Error(`${op}: parameter ${what} is not contiguous (strides [${p.strides}])`);
    if (p.node) throw new Error(`${op}: parameter ${what} is not a leaf (it was computed by an op); pass the leaf tensor`);
    const owner = owners.get(p);
    if (owner && !owner.disposed) throw new Error(`${op}: parameter ${what} is already in another flat buffer (dispose that optimizer first)`);
    if (params.indexOf(p) !== k) throw new Error(`${op}: parameter ${what} appears more than once`);
  });
}

/** Copies checked `params` into one flat buffer and rebinds each onto its slice; returns the buffer and the starts. */
function flatten(params: readonly Tensor[]): { flat: Tensor; starts: number[] } {
  const n = params.reduce((s, p) => s + p.size, 0);
  const flat = keep(Tensor.empty([n]));
  const starts: number[] = [];
  let off = 0;
  for (const p of params) {
    gatherInto(flat, off, p);
    p.rebind(flat.storage.retain(), off);
    owners.set(p, flat);
    starts.push(off);
    off += p.size;
  }
  return { flat, starts };
}

/**
 * Copies `params` into one new flat buffer and rebinds each tensor onto its slice (identity and
 * values kept), so `emaUpdate` can treat them as one span. Returns the flat [n] tensor, excluded
 * from scopes; disposing it drops only its own reference (the tensors keep theirs).
 */
export function flattenParams(params: Iterable<Tensor>): Tensor {
  const ps = [...params];
  checkParams('flattenParams', ps, []);
  return flatten(ps).flat;
}

/** The base of the flat-group optimizers: groups, flattening, gathering, state and `step()`. */
export abstract class FlatOptimizer<H extends object> {
  /** Parameter groups in order; their hyperparameters may be changed between steps. */
  readonly groups: ParamGroup<H>[] = [];
  /** Number of `step()` calls so far. */
  stepCount = 0;
  readonly #name: string;
  readonly #flats: Flat[] = [];
  readonly #where = new Map<Tensor, [number, number]>();
  #disposed = false;

  protected constructor(name: string, params: Iterable<ParamEntry | ParamGroupSpec<H>>, defaults: H, opts: object) {
    this.#name = name;
    const items = [...params];
    const isGroup = (x: unknown): x is ParamGroupSpec<H> => !(x instanceof Tensor) && !Array.isArray(x);
    const groupCount = items.filter(isGroup).length;
    if (groupCount > 0 && groupCount < items.length) throw new Error(`${name}: a mix of parameters and groups; pass only groups`);
    const specs = (groupCount > 0 ? items : [{ params: items }]) as ParamGroupSpec<H>[];
    // Check every group before moving any parameter, so a failed construction changes nothing.
    const groups = specs.map((spec, gi) => {
      const { params: entries, ...over } = spec;
      const list = [...entries];
      if (list.length === 0) throw new Error(`${name}: group ${gi} has no parameters`);
      const ps = list.map((e) => (e instanceof Tensor ? e : e[1]));
      const names = list.map((e) => (e instanceof Tensor ? undefined : e[0]));
      const h = { ...defaults, ...definedOf(opts), ...definedOf(over) } as H;
      this.validate(h, gi);
      return { h, ps, names };
    });
    checkParams(name, groups.flatMap((g) => g.ps), groups.flatMap((g) => g.names));
    groups.forEach(({ h, ps, names }, gi) => {
      const { flat, starts } = flatten(ps);
      ps.forEach((p, k) => this.#where.set(p, [gi, k]));
      const state = new Map<string, Tensor>();
      for (const slot of this.slots(h)) state.set(slot, keep(zeros([flat.size])));
      this.#flats.push({ param: flat, grad: keep(Tensor.empty([flat.size])), state, starts, steps: ps.map(() => 0) });
      this.groups.push({ ...h, params: ps, names });
    });
  }

  /** Throws a one-line error when a group's hyperparameters are invalid. */
  protected abstract validate(h: H, group: number): void;
  /** State slots a group keeps, as PyTorch names them ('momentum_buffer', 'exp_avg', ...). */
  protected abstract slots(h: H): readonly string[];
  /** Flags and scalars of parameter k's segment this step (its step count already advanced). */
  protected abstract segment(h: H, k: number, step: number, name: string | undefined, p: Tensor): Partial<Segment>;
  /** Records the group's one update dispatch. */
  protected abstract launch(h: H, flat: { param: Tensor; grad: Tensor }, state: ReadonlyMap<string, Tensor>, table: Tensor, nseg: number): void;

  /**
   * Applies one update to every parameter that has a `.grad`: per group, one buffer copy per
   * gradient into the flat gradient buffer and ONE update dispatch. Everything is checked first,
   * so an error leaves parameters, state and step counts untouched.
   */
  step(): void {
    if (this.#disposed) throw new Error(`${this.#name}.step: the optimizer was disposed`);
    const plans = this.groups.map((h, gi) => this.#plan(h, gi));
    plans.forEach((segs, gi) => {
      if (!segs) return;
      const h = this.groups[gi];
      const f = this.#flats[gi];
      segs.forEach((seg, k) => {
        if (!(seg.flags & SEG_ACTIVE)) return;
        gatherInto(f.grad, seg.start, h.params[k].grad!);
        f.steps[k]++;
      });
      const table = segmentTable(`${this.#name}.step`, segs);
      try {
        this.launch(h, f, f.state, table, segs.length);
      } finally {
        table.dispose();
      }
    });
    this.stepCount++;
  }

  /** A group's segment table for this step (null when no parameter has a gradient); throws on bad input. */
  #plan(h: ParamGroup<H>, gi: number): Segment[] | null {
    const f = this.#flats[gi];
    this.validate(h, gi);
    for (const slot of this.slots(h)) {
      if (!f.state.has(slot)) throw new Error(`${this.#name}: group ${gi} has no '${slot}' state (it was created with other hyperparameters); make a new optimizer`);
    }
    let any = false;
    const segs = h.params.map((p, k): Segment => {
      const what = label(p, h.names[k]);
      if (p.storage !== f.param.storage || p.offset !== f.starts[k]) {
        throw new Error(`${this.#name}.step: parameter ${what} was moved out of the optimizer's flat buffer`);
      }
      const g = p.grad;
      if (!g) return { start: f.starts[k], len: p.size, flags: 0 };
      if (g.disposed) throw new Error(`${this.#name}.step: the gradient of parameter ${what} was disposed (set .grad = null instead)`);
      if (!sameShape(g.shape, p.shape) || g.dtype !== 'f32') {
        throw new Error(`${this.#name}.step: gradient ${g.dtype} ${fmt(g.shape)} does not match parameter ${what}`);
      }
      any = true;
      const extra = this.segment(h, k, f.steps[k] + 1, h.names[k], p);
      return { ...extra, start: f.starts[k], len: p.size, flags: SEG_ACTIVE | (extra.flags ?? 0) };
    });
    return any ? segs : null;
  }

  /** Drops every parameter's gradient (`.grad = null`, disposing it), as `zero_grad(set_to_none=True)`. */
  zeroGrad(): void {
    for (const h of this.groups) {
      for (const p of h.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /**
   * Views of parameter `p`'s state, by PyTorch slot name (new views: dispose them). Before a
   * parameter's first step the slots hold zeros.
   */
  state(p: Tensor): Record<string, Tensor> {
    const at = this.#where.get(p);
    if (!at) throw new Error(`${this.#name}.state: tensor #${p.id} ${fmt(p.shape)} is not a parameter of this optimizer`);
    const f = this.#flats[at[0]];
    const out: Record<string, Tensor> = {};
    for (const [slot, t] of f.state) out[slot] = t.view(p.shape, stridesOf(p.shape), f.starts[at[1]]);
    return out;
  }

  /** Frees the gradient and state buffers; the parameters keep their (flat) storage and values. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const f of this.#flats) {
      for (const t of [f.param, f.grad, ...f.state.values()]) t.dispose();
    }
  }
}

function check(ok: boolean, msg: string): void {
  if (!ok) throw new Error(msg);
}

const nonNeg = (op: string, gi: number, what: string, v: number) =>
  check(Number.isFinite(v) && v >= 0, `${op}: group ${gi} ${what} must be a finite number >= 0, got ${v}`);

/** Hyperparameters of {@link SGD} (torch.optim.SGD). */
export interface SGDOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}
type SGDHyper = Required<SGDOptions>;

/**
 * torch.optim.SGD: g' = g + wd·p; buf = g' on a parameter's first step, else
 * momentum·buf + (1 - dampening)·g'; p -= lr·(nesterov ? g' + momentum·buf : buf).
 * Without momentum no buffer is kept (p -= lr·g').
 */
export class SGD extends FlatOptimizer<SGDHyper> {
  constructor(params: Iterable<ParamEntry | ParamGroupSpec<SGDHyper>>, opts: SGDOptions) {
    super('SGD', params, { lr: NaN, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }, opts);
  }
  protected validate(h: SGDHyper, gi: number): void {
    nonNeg('SGD', gi, 'lr', h.lr);
    nonNeg('SGD', gi, 'momentum', h.momentum);
    nonNeg('SGD', gi, 'weightDecay', h.weightDecay);
    check(Number.isFinite(h.dampening), `SGD: group ${gi} dampening must be finite, got ${h.dampening}`);
    check(!h.nesterov || (h.momentum > 0 && h.dampening === 0), `SGD: group ${gi} nesterov needs momentum > 0 and dampening 0 (got momentum ${h.momentum}, dampening ${h.dampening})`);
  }
  protected slots(h: SGDHyper): readonly string[] {
    return h.momentum !== 0 ? ['momentum_buffer'] : [];
  }
  protected segment(_h: SGDHyper, _k: number, step: number): Partial<Segment> {
    return { flags: step === 1 ? SEG_FIRST : 0 };
  }
  protected launch(h: SGDHyper, flat: { param: Tensor; grad: Tensor }, state: ReadonlyMap<string, Tensor>, table: Tensor, nseg: number): void {
    launchSgd(flat, h.momentum !== 0 ? state.get('momentum_buffer')! : null, table, nseg, h);
  }
}

/** Hyperparameters of {@link AdamW} (torch.optim.AdamW; amsgrad is not offered). */
export interface AdamWOptions {
  lr?: number;
  betas?: readonly [number, number];
  eps?: number;
  weightDecay?: number;
}
type AdamWHyper = Required<AdamWOptions>;

/**
 * torch.optim.AdamW (Loshchilov & Hutter 2019): p *= 1 - lr·wd; m = b1·m + (1 - b1)·g;
 * v = b2·v + (1 - b2)·g²; p -= lr/(1 - b1^t) · m / (√v / √(1 - b2^t) + eps), with t each
 * parameter's own step count. Defaults as PyTorch: lr 1e-3, betas (0.9, 0.999), eps 1e-8, wd 1e-2.
 */
export class AdamW extends FlatOptimizer<AdamWHyper> {
  constructor(params: Iterable<ParamEntry | ParamGroupSpec<AdamWHyper>>, opts: AdamWOptions = {}) {
    super('AdamW', params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2 }, opts);
  }
  protected validate(h: AdamWHyper, gi: number): void {
    nonNeg('AdamW', gi, 'lr', h.lr);
    nonNeg('AdamW', gi, 'eps', h.eps);
    nonNeg('AdamW', gi, 'weightDecay', h.weightDecay);
    check(h.betas.length === 2 && h.betas.every((b) => b >= 0 && b < 1), `AdamW: group ${gi} betas must be two numbers in [0, 1), got [${h.betas}]`);
  }
  protected slots(): readonly string[] {
    return ['exp_avg', 'exp_avg_sq'];
  }
  protected segment(h: AdamWHyper, _k: number, t: number): Partial<Segment> {
    return { c0: h.lr / (1 - h.betas[0] ** t), c1: Math.sqrt(1 - h.betas[1] ** t) };
  }
  protected launch(h: AdamWHyper, flat: { param: Tensor; grad: Tensor }, state: ReadonlyMap<string, Tensor>, table: Tensor, nseg: number): void {
    launchAdamW(flat, state.get('exp_avg')!, state.get('exp_avg_sq')!, table, nseg, h);
  }
}

/** Decides whether a parameter is excluded from LARS adaptation and weight decay. */
export type ExcludeRule = boolean | ((p: Tensor, name: string | undefined) => boolean);

/** Hyperparameters of {@link LARS}. */
export interface LARSOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  /** Trust coefficient η (default 0.001). */
  eta?: number;
  nesterov?: boolean;
  /**
   * Parameters that get neither adaptation nor weight decay: a predicate, or (per group) true /
   * false. Default: tensors of rank <= 1 (biases and normalization parameters).
   */
  exclude?: ExcludeRule;
}
type LARSHyper = Required<LARSOptions>;

/**
 * LARS (You et al. 2017) as SimCLR (arXiv:2002.05709) and BYOL (arXiv:2006.07733) use it, after
 * SimCLR's TF implementation. Included parameters: g' = g + wd·p and trust = η‖p‖/‖g'‖ (1 when a
 * norm is 0); excluded ones: g' = g, trust = 1. v = momentum·v + lr·trust·g'; p -= v
 * (nesterov: p -= momentum·v + lr·trust·g'). Norms are over each whole parameter tensor.
 * Defaults: momentum 0.9, weight decay 0, η 0.001, biases and norm parameters excluded.
 */
export class LARS extends FlatOptimizer<LARSHyper> {
  constructor(params: Iterable<ParamEntry | ParamGroupSpec<LARSHyper>>, opts: LARSOptions) {
    super('LARS', params, { lr: NaN, momentum: 0.9, weightDecay: 0, eta: 0.001, nesterov: false, exclude: (p: Tensor) => p.rank <= 1 }, opts);
  }
  protected validate(h: LARSHyper, gi: number): void {
    nonNeg('LARS', gi, 'lr', h.lr);
    nonNeg('LARS', gi, 'momentum', h.momentum);
    nonNeg('LARS', gi, 'weightDecay', h.weightDecay);
    nonNeg('LARS', gi, 'eta', h.eta);
  }
  protected slots(): readonly string[] {
    return ['momentum_buffer'];
  }
  protected segment(h: LARSHyper, _k: number, _t: number, name: string | undefined, p: Tensor): Partial<Segment> {
    const ex = typeof h.exclude === 'function' ? h.exclude(p, name) : h.exclude;
    return { flags: ex ? SEG_EXCLUDED : 0 };
  }
  protected launch(h: LARSHyper, flat: { param: Tensor; grad: Tensor }, state: ReadonlyMap<string, Tensor>, table: Tensor, nseg: number): void {
    launchLars(flat, state.get('momentum_buffer')!, table, nseg, h);
  }
}

/**
 * Clips the gradients of `params` by their global L2 norm, as torch.nn.utils.clip_grad_norm_:
 * every grad is scaled by min(1, maxNorm / (norm + 1e-6)). Returns the total norm before clipping
 * as a 0-d tensor (computed on the GPU; nothing is read back). Parameters without a grad are
 * ignored, repeated ones counted once; a non-contiguous grad is replaced by a contiguous copy
 * first. Dispatches: one partial-sum pass per grad, one final reduction, one scaling pass per grad.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): Tensor {
  if (!(maxNorm >= 0)) throw new Error(`clipGradNorm: maxNorm must be >= 0, got ${maxNorm}`);
  const grads: Tensor[] = [];
  for (const p of new Set(params)) {
    if (!p.grad) continue;
    if (!p.grad.isContiguous) {
      const c = keep(copy(p.grad));
      p.grad.dispose();
      p.grad = c;
    }
    grads.push(p.grad);
  }
  return noGrad(() => clipByGlobalNorm(grads, maxNorm));
}
