/**
 * A seeded data loader over a {@link Dataset}: a permutation per epoch from the host Philox stream,
 * batches of images gathered on the host and uploaded as bytes (u8 datasets: packed four per u32
 * word, a quarter of the f32 size), converted and normalised on the GPU (kernels/data.ts), labels
 * as i32 tensors.
 *
 * Ordering: with `seed` (default 0), epoch e's order is `randpermHost(n)` read at stream offset
 * e * ceil(n / 4) * 4 of the seed: a pure function of (seed, e), so any epoch can be replayed or
 * resumed alone. With `generator`, each epoch instead draws its permutation from that generator in
 * sequence (`e` then only labels the batches). The permutation is the GPU `randperm`'s for the same
 * stream position. `shuffle: false` keeps dataset order.
 *
 * Overlap: while the consumer works on batch k, batch k + 1 is prepared (host gather, upload,
 * conversion recorded) in a macrotask scheduled when batch k is handed out; it runs as soon as the
 * consumer yields the thread, typically while it awaits the GPU (a readback). `timings` records,
 * per batch, when preparation started and ended, when the batch was handed out and released, and
 * how long `next()` waited for it.
 *
 * Ownership: by default (`own: 'loader'`) the loader disposes batch k's `images` and `labels` when
 * the consumer asks for batch k + 1 or leaves the loop (break, return, throw); keep a tensor beyond
 * that by copying it. With `own: 'caller'` every batch's tensors belong to the consumer, who
 * disposes them. A batch prepared ahead but never handed out is always disposed by the loader.
 * Browser-safe.
 */
import { tensor } from '../creation.js';
import { imagesToFloat, uploadPacked, type Normalization } from '../kernels/data.js';
import { Generator } from '../random.js';
import { randpermHost } from '../random_host.js';
import type { Tensor } from '../tensor.js';
import { imageSize, type Dataset } from './dataset.js';

/** Options of {@link DataLoader}. */
export interface LoaderOptions extends Normalization {
  /** Images per batch (a positive integer). */
  batchSize: number;
  /** Shuffle every epoch (default true). */
  shuffle?: boolean;
  /** Seed of the per-epoch permutations (default 0); see the module comment. */
  seed?: number | bigint;
  /** Draw each epoch's permutation from this generator in sequence instead of from `seed`. */
  generator?: Generator;
  /** The last, smaller batch: 'keep' it (default) or 'drop' it. */
  lastBatch?: 'keep' | 'drop';
  /**
   * 'float' (default): images as normalised f32 [B, C, H, W] ((x / 255 - mean) / std for bytes;
   * mean 0, std 1 by default). 'packed': the uploaded bytes as u32 [ceil(B C H W / 4)] words
   * (u8 datasets only), for kernels that unpack pixels themselves.
   */
  output?: 'float' | 'packed';
  /** Prepare batch k + 1 while batch k is in use (default true). */
  prefetch?: boolean;
  /** Who disposes handed-out batches: 'loader' (default) or 'caller'; see the module comment. */
  own?: 'loader' | 'caller';
}

/** One batch as the loader hands it out. */
export interface Batch {
  /** f32 [B, C, H, W] (or packed u32 words with `output: 'packed'`). */
  images: Tensor;
  /** i32 [B]. */
  labels: Tensor;
  /** Batch index within the epoch (0-based). */
  index: number;
  /** The epoch passed to `epoch()`. */
  epoch: number;
  /** Dataset indices of the batch's images, in batch order. */
  indices: Int32Array;
  /** Captions of the batch's images, when the dataset has captions. */
  captions?: (string | undefined)[];
}

/** The loader's own timeline of one batch (milliseconds, `performance.now()`). */
export interface BatchTiming {
  index: number;
  /** Preparation (gather, upload, conversion recorded) started and ended. */
  prepareStart: number;
  prepareEnd: number;
  /** Host time spent preparing: gather + upload + recording the conversion. */
  prepareMs: number;
  /** The consumer asked for this batch (`next()` called). */
  requestedAt: number;
  /** How long that `next()` waited for the batch to be ready (0 when it was prepared ahead). */
  waitMs: number;
  /** Handed to the consumer. */
  yieldedAt: number;
  /** The consumer released it (asked for the next batch or left the loop); NaN while in use. */
  releasedAt: number;
}

interface Prepared {
  batch: Batch;
  timing: BatchTiming;
}

const now = (): number => performance.now();

/** Runs `fn` in a later macrotask (setImmediate in Node, a MessageChannel message in browsers). */
function macrotask(): Promise<void> {
  return new Promise((resolve) => {
    const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
    if (typeof g.setImmediate === 'function') g.setImmediate(resolve);
    else if (typeof MessageChannel === 'function') {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        ch.port1.close();
        resolve();
      };
      ch.port2.postMessage(0);
    } else setTimeout(resolve, 0);
  });
}

function disposeBatch(b: Batch): void {
  b.images.dispose();
  b.labels.dispose();
}

/** A seeded, batching, prefetching loader over a dataset; see the module comment. */
export class DataLoader {
  /** The dataset read. */
  readonly dataset: Dataset;
  /** Images per batch. */
  readonly batchSize: number;
  /** Timings of the most recently started epoch, one entry per batch prepared. */
  timings: BatchTiming[] = [];
  readonly #opts: Required<Pick<LoaderOptions, 'shuffle' | 'lastBatch' | 'output' | 'prefetch' | 'own'>>;
  readonly #norm: Normalization;
  readonly #seed: bigint;
  readonly #generator: Generator | null;

  /** A loader over `dataset` (options: {@link LoaderOptions}); throws on bad options. */
  constructor(dataset: Dataset, opts: LoaderOptions) {
    const { batchSize } = opts;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    const lastBatch = opts.lastBatch ?? 'keep';
    if (lastBatch !== 'keep' && lastBatch !== 'drop') throw new Error(`DataLoader: lastBatch must be 'keep' or 'drop', got '${String(lastBatch)}'`);
    const output = opts.output ?? 'float';
    if (output !== 'float' && output !== 'packed') throw new Error(`DataLoader: output must be 'float' or 'packed', got '${String(output)}'`);
    if (output === 'packed' && dataset.dtype !== 'u8') throw new Error(`DataLoader: output 'packed' needs a u8 dataset, got ${dataset.dtype}`);
    const own = opts.own ?? 'loader';
    if (own !== 'loader' && own !== 'caller') throw new Error(`DataLoader: own must be 'loader' or 'caller', got '${String(own)}'`);
    const c = dataset.shape[0];
    if (output === 'float' && (c < 1 || c > 4)) throw new Error(`DataLoader: images [${dataset.shape}] have ${c} channels; GPU conversion supports 1 to 4`);
    for (const k of ['mean', 'std'] as const) {
      const v = opts[k];
      if (Array.isArray(v) && v.length !== c) throw new Error(`DataLoader: ${k} has ${v.length} values for ${c} channels`);
    }
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.#opts = { shuffle: opts.shuffle ?? true, lastBatch, output, prefetch: opts.prefetch ?? true, own };
    this.#norm = { mean: opts.mean, std: opts.std };
    this.#seed = new Generator(opts.seed ?? 0).seed;
    this.#generator = opts.generator ?? null;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.#opts.lastBatch === 'drop' ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /**
   * The dataset order of epoch `e` (a permutation of 0..n-1, or 0..n-1 without shuffling). With a
   * `generator`, each call draws a new permutation from it.
   */
  order(e: number): Int32Array {
    if (!Number.isInteger(e) || e < 0) throw new Error(`DataLoader: epoch must be a non-negative integer, got ${e}`);
    const n = this.dataset.length;
    if (!this.#opts.shuffle) return Int32Array.from({ length: n }, (_, i) => i);
    if (this.#generator) return randpermHost(n, this.#generator);
    const stride = BigInt(Math.ceil(n / 4) * 4);
    return randpermHost(n, new Generator().setState({ seed: this.#seed, offset: BigInt(e) * stride }));
  }

  /** Gathers, uploads and converts batch k of `order` (see the module comment). */
  async #prepare(order: Int32Array, k: number, e: number, requested: boolean): Promise<Prepared> {
    const prepareStart = now();
    const ds = this.dataset;
    const size = imageSize(ds.shape);
    const indices = order.slice(k * this.batchSize, Math.min((k + 1) * this.batchSize, order.length));
    const b = indices.length;
    const labels = new Int32Array(b);
    for (let i = 0; i < b; i++) labels[i] = ds.label(indices[i]);
    const shape = [b, ds.shape[0], ds.shape[1], ds.shape[2]] as const;
    let images: Tensor;
    if (ds.dtype === 'u8') {
      // Bytes padded to whole u32 words: the upload reads the buffer in place.
      const bytes = new Uint8Array(Math.ceil((b * size) / 4) * 4);
      await ds.gather(indices, bytes.subarray(0, b * size));
      const packed = uploadPacked(bytes);
      if (this.#opts.output === 'packed') images = packed;
      else {
        images = imagesToFloat(packed, shape, this.#norm);
        packed.dispose();
      }
    } else {
      const values = new Float32Array(b * size);
      await (ds as Dataset<'f32'>).gather(indices, values);
      const raw = tensor(values, { shape: [b * size] });
      images = imagesToFloat(raw, shape, this.#norm);
      raw.dispose();
    }
    const batch: Batch = { images, labels: tensor(labels), index: k, epoch: e, indices };
    if (ds.caption) batch.captions = Array.from(indices, (i) => ds.caption!(i));
    const prepareEnd = now();
    return {
      batch,
      timing: {
        index: k, prepareStart, prepareEnd, prepareMs: prepareEnd - prepareStart,
        requestedAt: requested ? prepareStart : NaN, waitMs: 0, yieldedAt: NaN, releasedAt: NaN,
      },
    };
  }

  /**
   * The batches of epoch `e` (a non-negative integer), as an async iterator:
   * `for await (const { images, labels, index } of loader.epoch(e))`. Tensor ownership: see the
   * module comment.
   */
  async *epoch(e: number): AsyncGenerator<Batch, void, undefined> {
    const order = this.order(e);
    const count = this.length;
    const timings: BatchTiming[] = [];
    this.timings = timings;
    const own = this.#opts.own;
    let pending: Promise<Prepared | null> | null = null;
    let current: Batch | null = null;
    let stopped = false; // the consumer left the loop: a prefetch not yet started does nothing
    const ahead = (k: number) => {
      const p = macrotask().then(() => (stopped ? null : this.#prepare(order, k, e, false)));
      p.catch(() => {}); // awaited later; do not report it as unhandled meanwhile
      return p;
    };
    try {
      for (let k = 0; k < count; k++) {
        const requestedAt = now();
        const ready = pending ?? this.#prepare(order, k, e, true);
        pending = null;
        const { batch, timing } = (await ready)!;
        const got = now();
        if (Number.isNaN(timing.requestedAt)) timing.requestedAt = requestedAt;
        timing.waitMs = got - requestedAt;
        timings.push(timing);
        current = batch;
        if (this.#opts.prefetch && k + 1 < count) pending = ahead(k + 1);
        timing.yieldedAt = now();
        yield batch;
        timing.releasedAt = now();
        if (own === 'loader') disposeBatch(batch);
        current = null;
      }
    } finally {
      stopped = true;
      if (current) {
        const t = timings[timings.length - 1];
        if (Number.isNaN(t.releasedAt)) t.releasedAt = now();
        if (own === 'loader') disposeBatch(current);
      }
      if (pending) {
        const left = await pending.catch(() => null);
        if (left) disposeBatch(left.batch);
      }
    }
  }

  /** Totals over `timings` (the last epoch): batches, host preparation and waiting time in ms. */
  summary(): { batches: number; prepareMs: number; waitMs: number } {
    let prepareMs = 0;
    let waitMs = 0;
    for (const t of this.timings) {
      prepareMs += t.prepareMs;
      waitMs += t.waitMs;
    }
    return { batches: this.timings.length, prepareMs, waitMs };
  }
}
