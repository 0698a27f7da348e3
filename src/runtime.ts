/**
 * The runtime: one device with its buffer pool, command batch and pipeline cache, plus the error
 * state that turns asynchronous WebGPU failures into thrown errors. `init()` creates it; every op
 * uses the current one.
 */
import { acquireDevice, describeAdapter, type AcquiredDevice, type DeviceOptions } from './device.js';
import { BufferPool, READBACK_USAGE, type PoolOptions } from './buffer_pool.js';
import { CommandBatch } from './command_batch.js';
import { PipelineCache } from './pipeline_cache.js';

/** Options of {@link init}. */
export interface InitOptions extends DeviceOptions, PoolOptions {
  /** Dispatches recorded before an automatic submit (default 64). */
  maxDispatchesPerBatch?: number;
}

export class Runtime {
  readonly device: GPUDevice;
  readonly acquired: AcquiredDevice;
  readonly pool: BufferPool;
  readonly batch: CommandBatch;
  readonly pipelines: PipelineCache;
  /** Limits the kernels respect (the device's, and webgrad's portable cap of 8 storage buffers). */
  readonly limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeWorkgroupsPerDimension: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupStorageSize: number;
    maxStorageBuffersPerKernel: number;
  };
  #error: string | null = null;
  #lost: string | null = null;
  /** Name of the op being recorded, for error messages. */
  currentOp = '';
  #dummy: GPUBuffer | null = null;

  constructor(acquired: AcquiredDevice, opts: InitOptions = {}) {
    this.acquired = acquired;
    this.device = acquired.device;
    const l = this.device.limits;
    this.limits = {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerKernel: 8,
    };
    this.pool = new BufferPool(this.device, opts);
    this.batch = new CommandBatch(this.device, this.pool, opts.maxDispatchesPerBatch ?? 64);
    this.pipelines = new PipelineCache(this.device);
    this.device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      const kind = e.constructor?.name === 'GPUOutOfMemoryError' ? 'out of GPU memory' : 'WebGPU error';
      // Keep the first error: later ones are its consequences. Errors are sticky: the batch that
      // failed left its outputs unwritten, so every later result could be silently wrong.
      this.#error ??= `${kind} (last op recorded: '${this.currentOp || 'none'}'): ${e.message.trim()}`;
    });
    void this.device.lost.then((info) => {
      this.#lost = `GPU device lost (${info.reason}): ${info.message}`;
    });
  }

  /**
   * A small storage buffer bound for optional inputs that a kernel declares but never reads in
   * this variant (an unbound binding that the shader references must still be in the layout).
   */
  get dummy(): GPUBuffer {
    this.#dummy ??= this.pool.acquire(256, undefined, 'webgrad:dummy');
    return this.#dummy;
  }

  get strategy() {
    return this.acquired.strategy;
  }
  get subgroupSize() {
    return this.acquired.subgroupSize;
  }
  hasFeature(f: string): boolean {
    return this.acquired.features.has(f);
  }
  /** One line describing the adapter. */
  describe(): string {
    return describeAdapter(this.acquired);
  }

  /** Throws if the device was lost or has reported an error (errors are sticky). */
  checkErrors(op = this.currentOp): void {
    if (this.#lost) throw new Error(`webgrad: ${this.#lost}${op ? ` (at op '${op}')` : ''}`);
    if (this.#error) {
      throw new Error(
        `webgrad: ${this.#error}. Results computed since may be invalid; ` +
          'call destroyRuntime() and init() to start over',
      );
    }
  }

  /** Submits recorded work. */
  flush(): void {
    this.checkErrors();
    this.batch.flush();
  }

  /** Resolves when the GPU has finished all submitted work; throws on device errors. */
  async sync(): Promise<void> {
    this.flush();
    await waitThrottled(this.acquired.info.backend, () => this.device.queue.onSubmittedWorkDone());
    this.checkErrors();
  }

  /** Reads `bytes` bytes at `offset` of `buffer` back to the CPU (flushes first). */
  async readBuffer(buffer: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    if (bytes === 0) return new ArrayBuffer(0);
    const staging = this.pool.acquire(bytes, READBACK_USAGE, 'webgrad:readback');
    this.batch.copy(buffer, offset, staging, 0, Math.ceil(bytes / 4) * 4);
    this.flush();
    try {
      await waitThrottled(this.acquired.info.backend, () => staging.mapAsync(1 /* GPUMapMode.READ */, 0, staging.size));
    } catch (e) {
      this.checkErrors();
      throw new Error(`webgrad: readback failed: ${(e as Error).message}`);
    }
    const out = staging.getMappedRange(0, staging.size).slice(0, bytes);
    staging.unmap();
    this.pool.release(staging);
    this.checkErrors();
    return out;
  }
}

/**
 * While a Dawn (Node) map or work-done promise is pending, dawn.node re-arms the global
 * `setImmediate` in a loop to process its events, so the main thread spins on a core that a
 * software adapter (lavapipe) computes on. During webgrad's own waits, `setImmediate` is swapped
 * for a 0 ms timer (Node clamps it to ~1 ms), which lets the adapter's threads have the cores
 * (measured 1.1-1.5x on a training step). Other callbacks scheduled with setImmediate meanwhile
 * run about 1 ms later; nothing else changes. Nested waits share one swap.
 */
let throttled = 0;
let savedSetImmediate: typeof setImmediate | null = null;
async function waitThrottled<T>(backend: string, p: () => Promise<T>): Promise<T> {
  const g = globalThis as { setImmediate?: typeof setImmediate };
  if (backend !== 'dawn' || typeof g.setImmediate !== 'function') return p();
  if (throttled++ === 0) {
    savedSetImmediate = g.setImmediate;
    g.setImmediate = ((fn: (...a: unknown[]) => void, ...args: unknown[]) => setTimeout(fn, 0, ...args)) as unknown as typeof setImmediate;
  }
  try {
    return await p();
  } finally {
    if (--throttled === 0 && savedSetImmediate) {
      g.setImmediate = savedSetImmediate;
      savedSetImmediate = null;
    }
  }
}

let current: Runtime | null = null;
let pending: Promise<Runtime> | null = null;

/**
 * Creates the GPU runtime (adapter, device, pool, batch) once; later calls return the same one.
 * Throws an actionable error when no WebGPU adapter exists.
 */
export async function init(opts: InitOptions = {}): Promise<Runtime> {
  if (current) return current;
  pending ??= acquireDevice(opts).then((a) => (current = new Runtime(a, opts)));
  try {
    return await pending;
  } catch (e) {
    pending = null;
    throw e;
  }
}

/** The current runtime; throws when `init()` has not completed. */
export function runtime(): Runtime {
  if (!current) throw new Error('webgrad: no GPU device yet: call `await init()` first');
  return current;
}

/** True once `init()` has completed. */
export function hasRuntime(): boolean {
  return current !== null;
}

/** Submits all recorded GPU work (call at the end of a training step). */
export function flush(): void {
  current?.flush();
}

/** Waits for all submitted GPU work to finish. */
export async function sync(): Promise<void> {
  await current?.sync();
}

/** Destroys the device and forgets the runtime (tests; a later `init()` makes a new one). */
export function destroyRuntime(): void {
  current?.device.destroy();
  current = null;
  pending = null;
}
