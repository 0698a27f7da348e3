// The no-leak check: after warm-up steps, `steps` more steps must create no GPU buffer and leave
// as many buffers in use as before (pool counters; each step is flushed like a training step).
import { expect } from 'vitest';
import * as wg from '../../src/index.node.js';

export async function expectNoLeak(step: () => void | Promise<void>, { warmup = 3, steps = 20 } = {}): Promise<void> {
  const rt = wg.runtime();
  for (let i = 0; i < warmup; i++) await step();
  await wg.sync();
  const before = rt.pool.stats();
  for (let i = 0; i < steps; i++) {
    await step();
    wg.flush();
  }
  await wg.sync();
  const after = rt.pool.stats();
  expect({ inUse: after.inUse, created: after.created }, 'GPU buffers in use / created after the steps').toEqual({ inUse: before.inUse, created: before.created });
}
