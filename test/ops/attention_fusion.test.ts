// Proof that attention is fused (issue 6, point 3): the buffer pool is the only code that calls
// createBuffer, so its counters see every GPU byte; at T = 1024 the peak of all live GPU bytes
// during forward + backward stays below one T x T f32 matrix per head (an unfused composition
// stores at least the [H, T, T] scores); and the dispatch counts of forward and of backward do not
// grow with T (256 vs 1024).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { gpu } from '../helpers/gpu.js';

const rt = await gpu();

/** Every .ts file under `dir` (recursively). */
function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('buffer ownership', () => {
  it('the buffer pool is the only caller of createBuffer in the library', () => {
    const callers = ['src', 'autograd', 'models']
      .flatMap(tsFiles)
      .filter((f) => !f.endsWith('shaders.generated.ts'))
      .filter((f) => /\bcreateBuffer\s*\(/.test(readFileSync(f, 'utf8')));
    expect(callers).toEqual([join('src', 'buffer_pool.ts')]);
  });
});

interface Measure {
  peak: number;
  fwdDispatches: number;
  bwdDispatches: number;
}

/** Runs attentionQKV forward + backward at [1, T, 3D] and measures the pool's peak and the dispatch counts. */
async function measure(T: number, heads: number, hd: number): Promise<Measure> {
  const r = wg.runtime();
  const D = heads * hd;
  const x = wg.randn([1, T, 3 * D], { generator: new wg.Generator(T) });
  x.requiresGrad = true;
  const g = wg.randn([1, T, D], { generator: new wg.Generator(T + 1) });
  await wg.sync();
  r.pool.resetPeak();
  const d0 = r.batch.dispatches;
  const y = wg.attentionQKV(x, heads);
  const d1 = r.batch.dispatches;
  wg.backward(y, g);
  const d2 = r.batch.dispatches;
  const grad = await x.grad!.data();
  expect(grad.every(Number.isFinite)).toBe(true);
  const peak = r.pool.stats().peakInUseBytes;
  for (const t of [x, g, y]) t.dispose();
  return { peak, fwdDispatches: d1 - d0, bwdDispatches: d2 - d1 };
}

describe.skipIf(!rt)('attention fusion', () => {
  it('T = 1024: peak live GPU bytes below one T x T f32 matrix per head; dispatches independent of T', async () => {
    const heads = 2;
    const hd = 16;
    const small = await measure(256, heads, hd);
    const big = await measure(1024, heads, hd);
    const bound = heads * 1024 * 1024 * 4;
    console.log(`attention fusion: peak ${(big.peak / 2 ** 20).toFixed(2)} MiB at T=1024 (bound ${bound / 2 ** 20} MiB); ` +
      `dispatches fwd ${small.fwdDispatches}/${big.fwdDispatches}, bwd ${small.bwdDispatches}/${big.bwdDispatches} at T=256/1024`);
    expect(big.peak).toBeLessThan(bound);
    expect(big.fwdDispatches).toBe(small.fwdDispatches);
    expect(big.bwdDispatches).toBe(small.bwdDispatches);
  });

  it('the measure can fail: the unfused composition (matmul, softmax, matmul) exceeds the bound at T = 1024', async () => {
    const r = wg.runtime();
    const [heads, T, hd] = [2, 1024, 16];
    const qkv = [0, 1, 2].map((s) => wg.randn([1, heads, T, hd], { generator: new wg.Generator(s) }));
    for (const t of qkv) t.requiresGrad = true;
    await wg.sync();
    r.pool.resetPeak();
    const [q, k, v] = qkv;
    const y = wg.matmul(wg.softmax(wg.mul(wg.matmul(q, k, { transB: true }), 1 / Math.sqrt(hd)), -1), v);
    wg.backward(y, wg.onesLike(y));
    await q.grad!.data();
    const peak = r.pool.stats().peakInUseBytes;
    console.log(`unfused composition: peak ${(peak / 2 ** 20).toFixed(2)} MiB at T=1024`);
    expect(peak).toBeGreaterThan(heads * T * T * 4);
    for (const t of [...qkv, y]) t.dispose();
  });
});
