/**
 * Records every dispatch into one shared command encoder and compute pass, and submits on flush:
 * at readback, at a dispatch threshold, and when the user ends a step. Buffers released while
 * commands are pending go back to the pool only after the submit, because `queue.writeBuffer`
 * runs on the queue timeline before not-yet-submitted commands. Uniforms of the whole batch live
 * in one arena buffer (256-byte aligned slices) written just before the submit.
 */
import { BufferPool, Usage } from './buffer_pool.js';

const UNIFORM_ALIGN = 256;

/** Builds one kernel's uniform struct `Params`, field by field, with WGSL alignment rules. */
export class Params {
  readonly #words: number[] = [];
  readonly #types: ('u' | 'i' | 'f')[] = [];

  /** Appends u32 fields. */
  u32(...v: number[]): this {
    for (const x of v) this.#push('u', x);
    return this;
  }
  /** Appends i32 fields. */
  i32(...v: number[]): this {
    for (const x of v) this.#push('i', x);
    return this;
  }
  /** Appends f32 fields. */
  f32(...v: number[]): this {
    for (const x of v) this.#push('f', x);
    return this;
  }
  /** Pads with zero words to a multiple of `bytes` (4, 8 or 16). */
  align(bytes = 16): this {
    while ((this.#words.length * 4) % bytes) this.#push('u', 0);
    return this;
  }
  /** Appends an `array<vec4<u32>, n/4>` holding `values` padded with `fill` to `n` entries. */
  u32Array(values: readonly number[], n: number, fill = 0): this {
    if (values.length > n) throw new Error(`Params.u32Array: ${values.length} values do not fit in ${n}`);
    this.align(16);
    for (let i = 0; i < n; i++) this.#push('u', i < values.length ? values[i] : fill);
    return this.align(16);
  }
  /** Appends an `array<vec4<i32>, n/4>`. */
  i32Array(values: readonly number[], n: number, fill = 0): this {
    if (values.length > n) throw new Error(`Params.i32Array: ${values.length} values do not fit in ${n}`);
    this.align(16);
    for (let i = 0; i < n; i++) this.#push('i', i < values.length ? values[i] : fill);
    return this.align(16);
  }
  get byteLength(): number {
    return Math.max(16, Math.ceil((this.#words.length * 4) / 16) * 16);
  }
  /** Writes the struct into `view` at byte `offset`. */
  writeTo(view: DataView, offset: number): void {
    this.#words.forEach((w, i) => {
      const o = offset + 4 * i;
      const t = this.#types[i];
      if (t === 'f') view.setFloat32(o, w, true);
      else if (t === 'i') view.setInt32(o, w, true);
      else view.setUint32(o, w >>> 0, true);
    });
  }
  #push(t: 'u' | 'i' | 'f', v: number): void {
    if (t !== 'f' && !Number.isInteger(v)) throw new Error(`Params: ${t === 'u' ? 'u32' : 'i32'} field given ${v}`);
    this.#words.push(v);
    this.#types.push(t);
  }
}

/** One uniform buffer per batch; each dispatch takes a 256-byte aligned slice. */
class UniformArena {
  readonly #device: GPUDevice;
  readonly #pool: BufferPool;
  #buffer: GPUBuffer | null = null;
  readonly capacity: number;
  readonly #staging: ArrayBuffer;
  readonly #view: DataView;
  #used = 0;

  constructor(device: GPUDevice, pool: BufferPool, capacity: number) {
    this.#device = device;
    this.#pool = pool;
    this.capacity = capacity;
    this.#staging = new ArrayBuffer(capacity);
    this.#view = new DataView(this.#staging);
  }

  fits(bytes: number): boolean {
    return this.#used + bytes <= this.capacity;
  }

  get buffer(): GPUBuffer {
    this.#buffer ??= this.#pool.acquire(this.capacity, Usage.UNIFORM | Usage.COPY_DST, 'webgrad:uniforms');
    return this.#buffer;
  }

  /** Reserves a slice for `p` and returns its byte offset. */
  push(p: Params): number {
    const offset = this.#used;
    p.writeTo(this.#view, offset);
    this.#used = Math.ceil((offset + p.byteLength) / UNIFORM_ALIGN) * UNIFORM_ALIGN;
    return offset;
  }

  /** Uploads the used part; runs on the queue before the batch's commands. */
  upload(): void {
    if (this.#used > 0) this.#device.queue.writeBuffer(this.buffer, 0, this.#staging, 0, this.#used);
    this.#used = 0;
  }
}

/** A read-only or read-write storage binding of a dispatch, or the uniform. */
export interface BufferBinding {
  binding: number;
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}

/** Small integer ids for GPU objects, so bind groups can be looked up by what they bind. */
const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;
function idOf(o: object): number {
  let id = objectIds.get(o);
  if (id === undefined) objectIds.set(o, (id = nextObjectId++));
  return id;
}

/** Bind groups kept for reuse; a training step repeats the same bindings every step. */
const BIND_GROUP_CACHE_SIZE = 4096;

export class CommandBatch {
  readonly #device: GPUDevice;
  // Creating a bind group costs ~35 us of JS in dawn.node; a step's dispatches mostly bind the same
  // pooled buffers at the same uniform offsets as the step before, so they are cached by content.
  // Bind groups only reference buffers: reusing one across submits is valid.
  readonly #bindGroups = new Map<string, GPUBindGroup>();
  readonly #pool: BufferPool;
  readonly #uniforms: UniformArena;
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #count = 0;
  #pendingRelease: GPUBuffer[] = [];
  /** Dispatches recorded since the runtime started; submits since it started. */
  dispatches = 0;
  submits = 0;
  maxDispatches: number;

  constructor(device: GPUDevice, pool: BufferPool, maxDispatches = 64) {
    this.#device = device;
    this.#pool = pool;
    this.maxDispatches = maxDispatches;
    this.#uniforms = new UniformArena(device, pool, 64 * 1024);
  }

  /** Records one dispatch. `params` goes into the batch's uniform arena. */
  dispatch(
    pipeline: GPUComputePipeline,
    layout: GPUBindGroupLayout,
    storage: readonly BufferBinding[],
    params: Params | null,
    paramsBinding: number,
    grid: readonly [number, number, number],
    label: string,
  ): void {
    if (params && !this.#uniforms.fits(params.byteLength + UNIFORM_ALIGN)) this.flush();
    const entries: GPUBindGroupEntry[] = storage.map((b) => ({
      binding: b.binding,
      resource: { buffer: b.buffer, offset: b.offset ?? 0, size: b.size },
    }));
    if (params) {
      const offset = this.#uniforms.push(params);
      entries.push({ binding: paramsBinding, resource: { buffer: this.#uniforms.buffer, offset, size: params.byteLength } });
    }
    let key = `${idOf(layout)}`;
    for (const e of entries) {
      const r = e.resource as GPUBufferBinding;
      key += `|${e.binding}:${idOf(r.buffer)}:${r.offset ?? 0}:${r.size ?? -1}`;
    }
    let bindGroup = this.#bindGroups.get(key);
    if (!bindGroup) {
      if (this.#bindGroups.size >= BIND_GROUP_CACHE_SIZE) this.#bindGroups.clear();
      bindGroup = this.#device.createBindGroup({ layout, entries, label });
      this.#bindGroups.set(key, bindGroup);
    }
    this.#encoder ??= this.#device.createCommandEncoder({ label: 'webgrad:batch' });
    this.#pass ??= this.#encoder.beginComputePass({ label: 'webgrad:pass' });
    this.#pass.setPipeline(pipeline);
    this.#pass.setBindGroup(0, bindGroup);
    this.#pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    this.dispatches++;
    if (++this.#count >= this.maxDispatches) this.flush();
  }

  /** Records a buffer-to-buffer copy (ends the open compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.#encoder ??= this.#device.createCommandEncoder({ label: 'webgrad:batch' });
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
    this.#encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.#count++;
  }

  /** True while commands are recorded but not submitted. */
  get pending(): boolean {
    return this.#encoder !== null;
  }

  /** A buffer may still be used by recorded commands: return it to the pool after the submit. */
  release(buffer: GPUBuffer): void {
    if (this.#encoder) this.#pendingRelease.push(buffer);
    else this.#pool.release(buffer);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.#encoder) return;
    this.#pass?.end();
    this.#uniforms.upload();
    this.#device.queue.submit([this.#encoder.finish()]);
    this.submits++;
    this.#encoder = null;
    this.#pass = null;
    this.#count = 0;
    const rel = this.#pendingRelease;
    this.#pendingRelease = [];
    for (const b of rel) this.#pool.release(b);
  }
}
