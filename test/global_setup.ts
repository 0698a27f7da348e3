// Runs once per `vitest run`: prints the adapter line (or why there is none). With CI=true a
// missing adapter fails the run here, so a broken driver install cannot pass as skipped tests.
import { acquireDevice, describeAdapter, registerGpuProvider } from '../src/device.js';
import { dawnProvider } from '../src/dawn.node.js';

export default async function setup(): Promise<void> {
  // Runs once per vitest project in the same process: print once.
  if (process.env.WEBGRAD_ADAPTER_CHECKED) return;
  process.env.WEBGRAD_ADAPTER_CHECKED = '1';
  registerGpuProvider(dawnProvider);
  try {
    const d = await acquireDevice();
    console.log(describeAdapter(d));
    d.device.destroy();
  } catch (e) {
    const msg = (e as Error).message;
    if (process.env.CI === 'true') throw new Error(`CI=true and no WebGPU adapter: ${msg}`);
    console.log(`webgrad: GPU tests will be skipped: ${msg}`);
  }
}
