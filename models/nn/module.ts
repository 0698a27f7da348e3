/**
 * Module: the base of layers, backbones and methods. Parameters, buffers and submodules are found
 * by walking the module's own fields (tinygrad's get_parameters), so nothing is registered by hand:
 *  - a tensor field made with `param()` is a parameter (kept alive, requiresGrad); a leaf tensor
 *    field with requiresGrad set is adopted as one when first found;
 *  - a tensor field made with `buffer()` is a buffer: persistent state without gradients
 *    (BatchNorm running statistics), saved in the state dict;
 *  - a Module field is a submodule; arrays (of modules or tensors, nested) are named by index
 *    (`blocks.0.attn`); other fields (numbers, plain tensors, generators) are ignored.
 * Names are PyTorch state_dict names: each field name goes camelCase -> snake_case
 * (`runningMean` -> `running_mean`, `clsToken` -> `cls_token`), so checkpoints match
 * torchvision / timm. Order is PyTorch's: own parameters, own buffers, then submodules, each in
 * field order (the declaration order of class fields), recursively.
 */
import { tensor as upload } from '../../src/creation.js';
import { cast, copyInto } from '../../src/kernels/elementwise.js';
import { toI32, type SafeTensor } from '../../src/safetensors.js';
import { keep } from '../../src/scope.js';
import { fmt, sameShape } from '../../src/shape.js';
import { Tensor } from '../../src/tensor.js';

const PARAMS = new WeakSet<Tensor>();
const BUFFERS = new WeakSet<Tensor>();

/** Marks `t` as a module parameter: kept alive across scopes, requiresGrad = true. Returns `t`. */
export function param(t: Tensor): Tensor {
  if (BUFFERS.has(t)) throw new Error(`param: tensor #${t.id} ${fmt(t.shape)} is already a buffer`);
  if (t.node) throw new Error(`param: tensor #${t.id} ${fmt(t.shape)} is an op's output, not a leaf; detach() it first`);
  PARAMS.add(t);
  t.requiresGrad = true;
  return keep(t);
}

/** Marks `t` as a module buffer (persistent state, no gradient, saved in stateDict). Returns `t`. */
export function buffer(t: Tensor): Tensor {
  if (PARAMS.has(t)) throw new Error(`buffer: tensor #${t.id} ${fmt(t.shape)} is already a parameter`);
  BUFFERS.add(t);
  t.requiresGrad = false;
  return keep(t);
}

/** True for tensors made with `param()` (or adopted as parameters by a module walk). */
export const isParameter = (t: Tensor): boolean => PARAMS.has(t);
/** True for tensors made with `buffer()`. */
export const isBuffer = (t: Tensor): boolean => BUFFERS.has(t);

/** `runningMean` -> `running_mean`; digits and lower-case names are unchanged. */
export const snakeCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A module's own members, classified. */
interface Own {
  params: [string, Tensor][];
  buffers: [string, Tensor][];
  children: [string, Module][];
}

const join = (prefix: string, name: string): string => (prefix ? `${prefix}.${name}` : name);

/** Values a state dict may be loaded from: webgrad tensors or safetensors entries (`readSafetensors().tensors`). */
export type StateValue = Tensor | SafeTensor;
/** A state dict to load: a Map (as `stateDict()` and `readSafetensors()` give) or a plain object. */
export type StateDictInput = ReadonlyMap<string, StateValue> | Readonly<Record<string, StateValue>>;

/** Options of {@link Module.loadStateDict}. */
export interface LoadOptions {
  /** Missing and unexpected keys are errors (default true); shape mismatches always are. */
  strict?: boolean;
}

/** What {@link Module.loadStateDict} did not match (only non-empty when `strict` is false). */
export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

const shapeOf = (v: StateValue): readonly number[] => v.shape;

/**
 * Base class of everything with parameters. Subclasses assign parameters (`param()`), buffers
 * (`buffer()`) and submodules to fields in their constructor; see the file header for the rules.
 */
export class Module {
  /** Training mode (Dropout drops, BatchNorm uses batch statistics); set by `train()` / `eval()`. */
  training = true;

  /**
   * The (name, value) pairs the walk sees, before array expansion. Default: own enumerable fields
   * with snake_case names. Containers override it (Sequential names its layers "0", "1", ...).
   */
  protected members(): [string, unknown][] {
    return Object.entries(this).map(([k, v]) => [snakeCase(k), v]);
  }

  #own(): Own {
    const own: Own = { params: [], buffers: [], children: [] };
    const visit = (name: string, v: unknown): void => {
      if (v instanceof Module) own.children.push([name, v]);
      else if (Array.isArray(v)) v.forEach((x, i) => visit(`${name}.${i}`, x));
      else if (v instanceof Tensor) {
        if (BUFFERS.has(v)) own.buffers.push([name, v]);
        else if (PARAMS.has(v) || (v.requiresGrad && !v.node && !v.disposed)) own.params.push([name, PARAMS.has(v) ? v : param(v)]);
      }
    };
    for (const [k, v] of this.members()) visit(k, v);
    return own;
  }

  /** This module and every submodule with its dotted name (this one is ''); each module once. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, p: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([p, m]);
      for (const [n, c] of m.#own().children) walk(c, join(p, n));
    };
    walk(this, prefix);
    return out;
  }

  /** Direct submodules with their field names. */
  namedChildren(): [string, Module][] {
    return this.#own().children;
  }

  /** Every parameter with its dotted name, each tensor once (the first name wins, as PyTorch). */
  namedParameters(): [string, Tensor][] {
    return this.#collect('params');
  }

  /** Every parameter, each once, in registration order (what an optimizer takes). */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Every buffer with its dotted name, each tensor once. */
  namedBuffers(): [string, Tensor][] {
    return this.#collect('buffers');
  }

  /** Every buffer, each once. */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }

  #collect(kind: 'params' | 'buffers'): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [p, m] of this.namedModules()) {
      for (const [n, t] of m.#own()[kind]) {
        if (!seen.has(t)) out.push([join(p, n), t]);
        seen.add(t);
      }
    }
    return out;
  }

  /**
   * Parameters and buffers by PyTorch state_dict name (`layers.0.weight`, `bn1.running_mean`), in
   * PyTorch's order. The values are the module's own tensors (not copies): do not dispose them.
   * A module reachable under two names appears under both, as in PyTorch.
   */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const path = new Set<Module>();
    const walk = (m: Module, p: string): void => {
      if (path.has(m)) throw new Error(`stateDict(${this.constructor.name}): module cycle at '${p}' (${m.constructor.name} contains itself)`);
      path.add(m);
      const own = m.#own();
      for (const [n, t] of [...own.params, ...own.buffers]) out.set(join(p, n), t);
      for (const [n, c] of own.children) walk(c, join(p, n));
      path.delete(m);
    };
    walk(this, '');
    return out;
  }

  /**
   * Copies values from `dict` (tensors, or safetensors entries from `readSafetensors(bytes).tensors`)
   * into this module's parameters and buffers, in place (optimizers keep their references).
   * Everything is checked before anything is written: one error lists every missing, unexpected
   * and mis-shaped key. With `strict: false` only shape mismatches are errors, and the unmatched
   * keys are returned.
   */
  loadStateDict(dict: StateDictInput, { strict = true }: LoadOptions = {}): LoadResult {
    const src: Map<string, StateValue> = dict instanceof Map ? new Map(dict) : new Map(Object.entries(dict));
    const own = this.stateDict();
    const missingKeys = [...own.keys()].filter((k) => !src.has(k));
    const unexpectedKeys = [...src.keys()].filter((k) => !own.has(k));
    const shapes: string[] = [];
    for (const [k, t] of own) {
      const v = src.get(k);
      if (v && !sameShape(shapeOf(v), t.shape)) shapes.push(`${k}: checkpoint ${fmt(shapeOf(v))} vs module ${fmt(t.shape)}`);
    }
    const problems = [
      strict && missingKeys.length ? `missing keys: ${missingKeys.join(', ')}` : '',
      strict && unexpectedKeys.length ? `unexpected keys: ${unexpectedKeys.join(', ')}` : '',
      shapes.length ? `shape mismatch: ${shapes.join('; ')}` : '',
    ].filter(Boolean);
    if (problems.length) throw new Error(`loadStateDict(${this.constructor.name}): ${problems.join('; ')}`);
    for (const [k, t] of own) {
      const v = src.get(k);
      if (v) assign(t, v, k);
    }
    return { missingKeys, unexpectedKeys };
  }

  /**
   * Copies every parameter and buffer of `other` (a module of the same structure, e.g. a momentum
   * encoder's online twin) into this one, in place. Returns this module.
   */
  copyFrom(other: Module): this {
    const mine = this.stateDict();
    const theirs = other.stateDict();
    const bad = [
      ...[...mine.keys()].filter((k) => !theirs.has(k)).map((k) => `${k} missing in source`),
      ...[...theirs.keys()].filter((k) => !mine.has(k)).map((k) => `${k} not in target`),
      ...[...mine].filter(([k, t]) => theirs.has(k) && !sameShape(t.shape, theirs.get(k)!.shape))
        .map(([k, t]) => `${k}: source ${fmt(theirs.get(k)!.shape)} vs target ${fmt(t.shape)}`),
    ];
    if (bad.length) {
      throw new Error(`copyFrom(${other.constructor.name} -> ${this.constructor.name}): structures differ: ${bad.join('; ')}`);
    }
    for (const [k, t] of mine) assign(t, theirs.get(k)!, k);
    return this;
  }

  /** Sets training mode on this module and every submodule; returns this module. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode (`train(false)`); returns this module. */
  eval(): this {
    return this.train(false);
  }

  /** Drops every parameter's gradient (sets `.grad` to null, as PyTorch's set_to_none). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees every parameter (and its gradient) and buffer; the module is unusable afterwards. */
  dispose(): void {
    for (const t of [...this.parameters(), ...this.buffers()]) {
      t.grad?.dispose();
      t.grad = null;
      t.dispose();
    }
  }
}

/** Writes `v`'s values into the module tensor `t` (same shape; converted to t's dtype). */
function assign(t: Tensor, v: StateValue, key: string): void {
  if (v instanceof Tensor) {
    if (v === t) return;
    const c = v.dtype === t.dtype ? v : cast(v, t.dtype);
    copyInto(t, c);
    if (c !== v) c.dispose();
    return;
  }
  const data = v.dtype === 'I64' ? toI32(key, v.data as BigInt64Array) : (v.data as Float32Array | Int32Array);
  if (t.size === 0) return;
  // Upload to a fresh tensor, then copy with a kernel: a queue write straight into `t` would run
  // before dispatches already recorded in the open batch that still read the old values.
  const tmp = upload(data, { shape: v.shape, dtype: t.dtype });
  copyInto(t, tmp);
  tmp.dispose();
}
