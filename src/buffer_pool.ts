/**
 * Size-class buffer pool: the only place webgrad calls `createBuffer`. Buffers are keyed by
 * (rounded size, usage); a released buffer goes back to a free list and is handed out again, so a
 * training step in steady state creates no buffers. Free lists are capped per class and in total
 * bytes; what exceeds the cap is destroyed.
 *
 * Release must be deferred while recorded-but-unsubmitted commands may still use a buffer: that is
 * {@link CommandBatch.release}'s job; this pool assumes a buffer given back is free to reuse.
 */

/** GPUBufferUsage flags (numeric, so no global constants are needed in Node). */
export const Usage = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

/** Usage of tensor storage: kernels read/write it, uploads write it, readbacks copy from it. */
export const STORAGE_USAGE = Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST;
/** Usage of readback staging buffers. */
export const READBACK_USAGE = Usage.MAP_READ | Usage.COPY_DST;

const MIN_BYTES = 256;

/** Rounds a byte size up to its size class: 4 classes per power of two (at most 25% waste). */
export function sizeClass(bytes: number): number {
  if (bytes <= MIN_BYTES) return MIN_BYTES;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = p / 4;
  return Math.ceil(bytes / step) * step;
}

/** Counters for tests and diagnostics. */
export interface PoolStats {
  /** Buffers ever created by the pool. */
  created: number;
  /** Buffers destroyed by the pool (over caps, or by `trim`). */
  destroyed: number;
  /** Buffers alive now (created - destroyed): in use plus free. */
  live: number;
  /** Buffers handed out and not yet released. */
  inUse: number;
  /** Bytes of live buffers. */
  liveBytes: number;
  /** Bytes of buffers in use now, and the peak of that since the last `resetPeak`. */
  inUseBytes: number;
  peakInUseBytes: number;
}

export interface PoolOptions {
  /** Free buffers kept per size class. */
  maxFreePerClass?: number;
  /** Total bytes kept in free lists. */
  maxFreeBytes?: number;
}

export class BufferPool {
  readonly #device: GPUDevice;
  readonly #free = new Map<string, GPUBuffer[]>();
  readonly #maxFreePerClass: number;
  readonly #maxFreeBytes: number;
  #freeBytes = 0;
  #created = 0;
  #destroyed = 0;
  #inUse = 0;
  #liveBytes = 0;
  #inUseBytes = 0;
  #peakInUseBytes = 0;

  constructor(device: GPUDevice, opts: PoolOptions = {}) {
    this.#device = device;
    this.#maxFreePerClass = opts.maxFreePerClass ?? 256;
    this.#maxFreeBytes = opts.maxFreeBytes ?? 512 * 1024 * 1024;
  }

  /** A buffer of at least `bytes` bytes with exactly `usage`. */
  acquire(bytes: number, usage: number = STORAGE_USAGE, label = 'webgrad'): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.#free.get(`${size}:${usage}`);
    let buf = list?.pop();
    if (buf) {
      this.#freeBytes -= size;
    } else {
      buf = this.#create(size, usage, label);
    }
    this.#inUse++;
    this.#inUseBytes += size;
    if (this.#inUseBytes > this.#peakInUseBytes) this.#peakInUseBytes = this.#inUseBytes;
    return buf;
  }

  /** Gives a buffer back for reuse. The caller guarantees no pending command still uses it. */
  release(buf: GPUBuffer): void {
    const size = buf.size;
    this.#inUse--;
    this.#inUseBytes -= size;
    const key = `${size}:${buf.usage}`;
    let list = this.#free.get(key);
    if (!list) this.#free.set(key, (list = []));
    if (list.length >= this.#maxFreePerClass || this.#freeBytes + size > this.#maxFreeBytes) {
      this.#destroy(buf);
      return;
    }
    list.push(buf);
    this.#freeBytes += size;
  }

  /** Destroys every free buffer (e.g. before retrying a failed allocation). */
  trim(): void {
    for (const list of this.#free.values()) for (const b of list.splice(0)) this.#destroy(b);
    this.#freeBytes = 0;
  }

  stats(): PoolStats {
    return {
      created: this.#created,
      destroyed: this.#destroyed,
      live: this.#created - this.#destroyed,
      inUse: this.#inUse,
      liveBytes: this.#liveBytes,
      inUseBytes: this.#inUseBytes,
      peakInUseBytes: this.#peakInUseBytes,
    };
  }

  /** Starts a new peak measurement of in-use bytes. */
  resetPeak(): void {
    this.#peakInUseBytes = this.#inUseBytes;
  }

  #create(size: number, usage: number, label: string): GPUBuffer {
    let buf: GPUBuffer;
    try {
      buf = this.#device.createBuffer({ size, usage, label });
    } catch {
      // Out of memory or a host-side failure: give back what the pool holds and retry once.
      this.trim();
      buf = this.#device.createBuffer({ size, usage, label });
    }
    this.#created++;
    this.#liveBytes += size;
    return buf;
  }

  #destroy(buf: GPUBuffer): void {
    this.#destroyed++;
    this.#liveBytes -= buf.size;
    buf.destroy();
  }
}
