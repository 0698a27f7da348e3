/**
 * Tensor: a view (shape, strides, offset, dtype) over refcounted GPU storage. Views made by
 * reshape/permute/slice share the storage; `dispose()` drops this view's reference and is
 * idempotent. Values come back with `await t.data()` / `await t.item()`.
 */
import { typedArray, type AnyTypedArray, type DType } from './dtype.js';
import { fmt, isContiguous, sizeOf, stridesOf, type Shape } from './shape.js';
import { Storage } from './storage.js';
import { runtime, type Runtime } from './runtime.js';
import { track, unwatchLeak, watchLeak } from './scope.js';

let nextId = 1;

/**
 * What autograd attaches to a tensor made by a recorded op (defined in autograd/; src/ only
 * carries it). `seq` orders nodes in eager order, so reverse order is a topological order.
 */
export interface GradNodeRef {
  readonly seq: number;
}

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  /** Element offset of this view in its storage. */
  readonly offset: number;
  readonly dtype: DType;
  #storage: Storage | null;
  readonly #token = {};
  /** Autograd: gradients are computed for this tensor (a leaf) or flow through it (an op's output). */
  requiresGrad = false;
  /** Autograd: the accumulated gradient of a leaf after `backward()`, else null. */
  grad: Tensor | null = null;
  /** Autograd: the recorded op that produced this tensor (null for leaves and untracked results). */
  node: GradNodeRef | null = null;

  /** Internal: use the creation functions (`tensor`, `zeros`, ...) instead. */
  constructor(storage: Storage, shape: Shape, dtype: DType, strides: Shape = stridesOf(shape), offset = 0) {
    this.#storage = storage;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze([...strides]);
    this.offset = offset;
    this.dtype = dtype;
    track(this);
    watchLeak(this, this.#token);
  }

  /** A new contiguous, uninitialised tensor. */
  static empty(shape: Shape, dtype: DType = 'f32', rt: Runtime = runtime()): Tensor {
    return new Tensor(new Storage(rt, sizeOf(shape), shape), shape, dtype);
  }

  /** A view sharing this tensor's storage. */
  view(shape: Shape, strides: Shape, offset: number): Tensor {
    return new Tensor(this.storage.retain(), shape, this.dtype, strides, offset);
  }

  get size(): number {
    return sizeOf(this.shape);
  }
  get rank(): number {
    return this.shape.length;
  }
  get isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }
  get disposed(): boolean {
    return this.#storage === null;
  }
  /** The storage; throws a clear error after `dispose()`. */
  get storage(): Storage {
    if (!this.#storage) throw new Error(`webgrad: tensor #${this.id} ${fmt(this.shape)} used after dispose()`);
    return this.#storage;
  }
  get buffer(): GPUBuffer {
    return this.storage.buffer;
  }

  /**
   * Re-points this tensor at `storage` (taking over one reference) with contiguous strides at
   * `offset`, keeping its identity: optimizers move parameters into one flat buffer per group.
   * The values are not copied; the caller copies them first.
   */
  rebind(storage: Storage, offset: number): void {
    if (!this.isContiguous) throw new Error(`rebind: tensor #${this.id} ${fmt(this.shape)} is not contiguous`);
    const old = this.storage;
    this.#storage = storage;
    (this as { offset: number }).offset = offset;
    (this as { strides: readonly number[] }).strides = Object.freeze(stridesOf(this.shape));
    old.release();
  }

  /** Drops this view's reference to the storage; safe to call twice. */
  dispose(): void {
    if (!this.#storage) return;
    this.#storage.release();
    this.#storage = null;
    this.node = null;
    unwatchLeak(this.#token);
  }

  /** Copies the values to the CPU, in row-major order of `shape`. */
  async data(): Promise<AnyTypedArray> {
    const n = this.size;
    if (n === 0) return typedArray(this.dtype, 0);
    // Read the span of storage this view touches, then gather on the CPU (handles any strides).
    let lo = this.offset;
    let hi = this.offset;
    this.shape.forEach((d, i) => {
      const s = this.strides[i] * (d - 1);
      if (s < 0) lo += s;
      else hi += s;
    });
    const rt = runtime();
    const bytes = await rt.readBuffer(this.storage.buffer, lo * 4, (hi - lo + 1) * 4);
    const span = typedArray(this.dtype, bytes);
    if (this.isContiguous && lo === this.offset) return span.length === n ? span : span.slice(0, n);
    const out = typedArray(this.dtype, n);
    const idx = new Array<number>(this.rank).fill(0);
    let pos = this.offset - lo;
    for (let k = 0; k < n; k++) {
      out[k] = span[pos];
      for (let d = this.rank - 1; d >= 0; d--) {
        idx[d]++;
        pos += this.strides[d];
        if (idx[d] < this.shape[d]) break;
        pos -= this.strides[d] * this.shape[d];
        idx[d] = 0;
      }
    }
    return out;
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item(): tensor has ${this.size} elements, shape ${fmt(this.shape)}`);
    return (await this.data())[0];
  }

  /** The values as nested arrays of numbers. */
  async toArray(): Promise<unknown> {
    const flat = Array.from(await this.data());
    const build = (dim: number, start: number): unknown => {
      if (dim === this.rank) return flat[start];
      const step = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, start + i * step));
    };
    return build(0, 0);
  }

  toString(): string {
    return `Tensor(${fmt(this.shape)}, ${this.dtype}${this.disposed ? ', disposed' : ''})`;
  }
}
