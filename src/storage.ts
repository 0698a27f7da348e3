/** A refcounted GPU buffer shared by a tensor and its views. */
import { BYTES_PER_ELEMENT } from './dtype.js';
import { fmt, type Shape } from './shape.js';
import type { Runtime } from './runtime.js';

export class Storage {
  readonly buffer: GPUBuffer;
  /** Number of elements the storage was allocated for. */
  readonly length: number;
  #refs = 1;
  readonly #rt: Runtime;

  constructor(rt: Runtime, length: number, shapeForErrors: Shape = [length]) {
    const bytes = length * BYTES_PER_ELEMENT;
    const limit = Math.min(rt.limits.maxStorageBufferBindingSize, rt.limits.maxBufferSize);
    if (bytes > limit) {
      throw new Error(
        `webgrad: a tensor of shape ${fmt(shapeForErrors)} needs ${bytes} bytes, above this device's ` +
          `maxStorageBufferBindingSize of ${limit} bytes; split it into smaller tensors`,
      );
    }
    this.#rt = rt;
    this.length = length;
    this.buffer = rt.pool.acquire(Math.max(bytes, 4));
  }

  get refs(): number {
    return this.#refs;
  }

  retain(): this {
    if (this.#refs <= 0) throw new Error('webgrad: storage used after it was freed');
    this.#refs++;
    return this;
  }

  release(): void {
    if (--this.#refs === 0) this.#rt.batch.release(this.buffer);
  }
}
