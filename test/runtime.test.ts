// The runtime: adapter errors, WebGPU errors surfacing as thrown errors naming the op, limits,
// batched submission, lifetimes (dispose, views, scope) and the no-leak steady state.
import { describe, expect, it } from 'vitest';
import * as wg from '../src/index.node.js';
import { acquireDevice, NO_ADAPTER_HELP, registerGpuProvider } from '../src/device.js';
import { dawnProvider } from '../src/dawn.node.js';
import { dispatch } from '../src/dispatch.js';
import { launchMap } from '../src/kernels/elementwise.js';
import { Params } from '../src/command_batch.js';
import { scopeDepth } from '../src/scope.js';
import { gpu } from './helpers/gpu.js';

const rt = await gpu();

describe('device acquisition', () => {
  it('without an adapter, throws one actionable error', async () => {
    registerGpuProvider({ name: 'dawn', gpu: async () => undefined });
    try {
      await expect(acquireDevice()).rejects.toThrow(NO_ADAPTER_HELP);
      expect(NO_ADAPTER_HELP).toMatch(/lavapipe/);
      expect(NO_ADAPTER_HELP).toMatch(/scripts\/setup\.sh/);
    } finally {
      registerGpuProvider(dawnProvider);
    }
  });
});

describe.skipIf(!rt)('runtime', () => {
  it('describes the adapter and picks a strategy', () => {
    const line = rt!.describe();
    expect(line).toMatch(/^webgrad adapter: /);
    expect(['cpu-simd', 'gpu']).toContain(rt!.strategy);
    if (rt!.hasFeature('subgroups')) expect(rt!.subgroupSize).toBeGreaterThan(0);
  });

  it('refuses tensors above maxStorageBufferBindingSize with the limit in the message', () => {
    const limit = Math.min(rt!.limits.maxStorageBufferBindingSize, rt!.limits.maxBufferSize);
    const n = Math.floor(limit / 4) + 1;
    expect(() => wg.empty([n])).toThrow(/maxStorageBufferBindingSize of \d+ bytes/);
    expect(() => wg.empty([n])).toThrow(`[${n}]`);
  });

  it('asserts at most 8 storage buffers per kernel and no input/output aliasing', () => {
    const ts = Array.from({ length: 9 }, () => wg.zeros([1]));
    expect(() =>
      dispatch({ op: 'nine', shader: 'elementwise', entry: 'map1', inputs: ts.slice(0, 8), outputs: [ts[8]], params: new Params().u32(1), workgroups: 1 }),
    ).toThrow('nine: kernel elementwise.map1 binds 9 storage buffers; the limit is 8');
    expect(() =>
      dispatch({ op: 'alias', shader: 'elementwise', entry: 'map1', inputs: [ts[0]], outputs: [ts[0]], workgroups: 1 }),
    ).toThrow(/alias: a buffer is bound both as input and output/);
  });

  it('records dispatches into one batch and submits once on readback, or at the threshold', async () => {
    await wg.sync();
    const b = rt!.batch;
    const s0 = b.submits;
    const d0 = b.dispatches;
    let x = wg.ones([8]);
    for (let i = 0; i < 10; i++) x = wg.add(x, 1);
    expect(b.dispatches - d0).toBe(11);
    expect(b.submits).toBe(s0);
    expect(Array.from(await x.data())).toEqual(new Array(8).fill(11));
    expect(b.submits).toBe(s0 + 1);
    const s1 = b.submits;
    for (let i = 0; i < b.maxDispatches + 5; i++) x = wg.add(x, 1);
    expect(b.submits).toBe(s1 + 1); // threshold flush
    await wg.sync();
  });

  it('dispose is idempotent, use after dispose is a clear error, views keep storage alive', async () => {
    const x = wg.tensor([1, 2, 3, 4]);
    const v = wg.reshape(x, [2, 2]);
    x.dispose();
    x.dispose();
    expect(() => wg.add(x, 1)).toThrow(/used after dispose\(\)/);
    expect(await v.toArray()).toEqual([[1, 2], [3, 4]]);
    v.dispose();
  });

  it('scope disposes temporaries, keeps returned and kept tensors, nests', async () => {
    const kept = wg.keep(wg.zeros([2]));
    let inner: wg.Tensor | null = null;
    const out = wg.scope(() => {
      const a = wg.ones([2]);
      const r = wg.scope(() => {
        inner = wg.add(a, 1);
        return { r: wg.mul(inner, 3) };
      });
      expect(inner!.disposed).toBe(true);
      expect(a.disposed).toBe(false);
      return [r.r, wg.add(kept, 0)];
    });
    expect(scopeDepth()).toBe(0);
    expect(out.map((t) => t.disposed)).toEqual([false, false]);
    expect(Array.from(await out[0].data())).toEqual([6, 6]);
    expect(kept.disposed).toBe(false);
    expect(() => wg.scope(() => Promise.resolve(1))).toThrow(/must be synchronous/);
  });

  it('steady state: no buffer created per op, live-buffer count flat over 100 steps', async () => {
    const w = wg.keep(wg.tensor(new Float32Array(1000).fill(0.5), { shape: [10, 100] }));
    const step = () =>
      wg.scope(() => {
        let h = wg.mul(w, 2);
        h = wg.relu(wg.sub(h, 0.25));
        h = wg.concat([h, wg.exp(h)], 0);
        return wg.pad(wg.transpose(h), [[1, 1]]);
      });
    for (let i = 0; i < 3; i++) step().dispose();
    await wg.sync();
    const before = rt!.pool.stats();
    const live: number[] = [];
    for (let i = 0; i < 100; i++) {
      const out = step();
      out.dispose();
      wg.flush();
      live.push(rt!.pool.stats().live);
    }
    await wg.sync();
    const after = rt!.pool.stats();
    expect(after.created).toBe(before.created);
    expect(after.inUse).toBe(before.inUse);
    expect(new Set(live).size).toBe(1);
    w.dispose();
  });
  // Last: it leaves the runtime failed and replaces it.
  it('a shader that fails to compile becomes a sticky thrown error naming the op', async () => {
    const x = wg.ones([4]);
    const y = launchMap({ op: 'brokenOp', inputs: [x], expr: 'a +* 1.0', outDtype: 'f32' });
    await expect(y.data()).rejects.toThrow(/brokenOp/);
    // Sticky: x's fill was in the failed batch, so reading anything now must not give silent zeros.
    await expect(x.data()).rejects.toThrow(/brokenOp.*start over/s);
    expect(() => wg.add(x, 1)).toThrow(/brokenOp/);
    wg.destroyRuntime();
    await wg.init();
    expect(Array.from(await wg.add(wg.ones([4]), 1).data())).toEqual([2, 2, 2, 2]);
  });

  it('device loss becomes a thrown error naming the op', async () => {
    const r = wg.runtime();
    const x = wg.ones([4]);
    r.device.destroy();
    await r.device.lost;
    await new Promise((res) => setTimeout(res, 0));
    expect(() => wg.mul(x, 2)).toThrow(/GPU device lost.*at op 'mul'/);
    wg.destroyRuntime();
  });
});
