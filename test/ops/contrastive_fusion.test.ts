// Proof that NT-Xent is fused (issue 6, point 3): at 2N = 4096, d = 128 the peak of all GPU bytes
// in use during forward + backward (buffer-pool accounting after resetPeak, the inputs included)
// stays below one 2N x 2N f32 matrix (64 MiB), and the number of dispatches per forward and per
// backward does not depend on N (N = 256 and N = 2048).
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { gpu } from '../helpers/gpu.js';
import { uniform } from '../helpers/rand.js';

const rt = await gpu();
const D = 128;

/** One NT-Xent forward + backward on z [n2, D]: dispatch counts, peak bytes in use, and the time. */
async function step(n2: number): Promise<{ fwd: number; bwd: number; peak: number; ms: number; loss: number }> {
  const r = wg.runtime();
  const z = wg.tensor(uniform(n2 * D, n2), { shape: [n2, D] });
  z.requiresGrad = true;
  await wg.sync();
  r.pool.resetPeak();
  const t0 = performance.now();
  const d0 = r.batch.dispatches;
  let d1 = 0;
  const loss = wg.scope(() => {
    const l = wg.ntXent(z, { temperature: 0.1 });
    d1 = r.batch.dispatches;
    wg.backward(l);
    return l;
  });
  const d2 = r.batch.dispatches;
  const value = await loss.item();
  await z.grad!.data();
  const ms = performance.now() - t0;
  const peak = r.pool.stats().peakInUseBytes;
  loss.dispose();
  z.grad!.dispose();
  z.dispose();
  return { fwd: d1 - d0, bwd: d2 - d1, peak, ms, loss: value };
}

describe.skipIf(!rt)('NT-Xent is fused', () => {
  it('2N = 4096, d = 128: peak GPU bytes below one 2N x 2N f32 matrix; dispatches independent of N', async () => {
    const small = await step(512);
    const big = await step(4096);
    const matrix = 4096 * 4096 * 4;
    console.log(`ntXent fusion: 2N=512: ${small.fwd} fwd + ${small.bwd} bwd dispatches, peak ${(small.peak / 2 ** 20).toFixed(2)} MiB, ${small.ms.toFixed(0)} ms; ` +
      `2N=4096: ${big.fwd} fwd + ${big.bwd} bwd dispatches, peak ${(big.peak / 2 ** 20).toFixed(2)} MiB (2N x 2N f32 = ${matrix / 2 ** 20} MiB), ${big.ms.toFixed(0)} ms`);
    expect(Number.isFinite(big.loss)).toBe(true);
    expect(big.peak).toBeLessThan(matrix);
    expect({ fwd: big.fwd, bwd: big.bwd }).toEqual({ fwd: small.fwd, bwd: small.bwd });
  }, 120_000);
});
