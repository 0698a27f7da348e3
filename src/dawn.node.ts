/**
 * Node-only: the Dawn provider (`webgpu` npm package). The object `create()` returns must stay
 * referenced for the device's whole life, or Dawn segfaults, aborts or hangs in mapAsync, so it is
 * kept in this module for the life of the process.
 */
import type { GpuProvider } from './device.js';

let instance: GPU | undefined;

export const dawnProvider: GpuProvider = {
  name: 'dawn',
  async gpu() {
    if (instance) return instance;
    let mod: { create: (flags: string[]) => GPU };
    try {
      mod = (await import('webgpu')) as unknown as { create: (flags: string[]) => GPU };
    } catch (e) {
      throw new Error(`webgrad: cannot load the 'webgpu' package (Dawn for Node): ${(e as Error).message}. Run \`npm install webgpu\`.`);
    }
    instance = mod.create([]);
    return instance;
  },
};
