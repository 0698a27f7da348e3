// Checkpoints: save then load into a fresh model gives identical outputs (parameters and BN
// running statistics travel); the file is safetensors with PyTorch names and num_batches_tracked
// as I64; missing, unexpected, mis-shaped and wrongly typed keys come in one error listing them
// all; strict: false returns the unmatched keys; the Node file helpers round-trip.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as wg from '../../src/index.node.js';
import { readSafetensors, writeSafetensors, type SafeTensor } from '../../src/safetensors.js';
import { checkpoint, ProjectionHead, resnetTiny, SGD, type ResNet } from '../../models/index.js';
import { gpu } from '../helpers/gpu.js';

const rt = await gpu();
const gen = (seed: number) => new wg.Generator(seed);

/** A resnet-tiny after two SGD steps, so weights and running statistics differ from a fresh one. */
async function trained(seed: number): Promise<ResNet> {
  const m = resnetTiny({ inChannels: 1, numClasses: 4, generator: gen(seed) });
  const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
  for (let s = 0; s < 2; s++) {
    wg.scope(() => {
      const x = wg.randn([4, 1, 12, 12], { generator: gen(seed + 10 + s) });
      wg.backward(wg.crossEntropy(m.forward(x), wg.randint(0, 4, [4], { generator: gen(seed + 20 + s) })));
      opt.step();
      opt.zeroGrad();
    });
  }
  await wg.sync();
  return m;
}

async function evalOutput(m: ResNet, x: wg.Tensor): Promise<number[]> {
  m.eval();
  const y = wg.noGrad(() => wg.scope(() => m.forward(x)));
  const out = Array.from(await y.data());
  y.dispose();
  return out;
}

describe.skipIf(!rt)('checkpoints', () => {
  it('save then load into a fresh model gives identical outputs and state', async () => {
    const a = await trained(1);
    const bytes = await checkpoint.save(a, { metadata: { note: 'test' } });
    const file = readSafetensors(bytes);
    expect([...file.tensors.keys()]).toEqual([...a.stateDict().keys()]);
    expect(file.metadata).toEqual({ format: 'pt', note: 'test' });
    const nbt = file.tensors.get('layer2.0.downsample.1.num_batches_tracked')!;
    expect([nbt.dtype, nbt.shape, Array.from(nbt.data as BigInt64Array)]).toEqual(['I64', [], [2n]]);
    const b = resnetTiny({ inChannels: 1, numClasses: 4, generator: gen(99) });
    const x = wg.randn([3, 1, 12, 12], { generator: gen(5) });
    const before = await evalOutput(b, x);
    const want = await evalOutput(a, x);
    expect(before).not.toEqual(want);
    expect(checkpoint.load(b, bytes.slice().buffer)).toEqual({ missingKeys: [], unexpectedKeys: [] }); // an ArrayBuffer works too
    expect(await evalOutput(b, x)).toEqual(want);
    for (const [k, t] of b.stateDict()) expect(Array.from(await t.data()), k).toEqual(Array.from(await a.stateDict().get(k)!.data()));
    x.dispose();
    a.dispose();
    b.dispose();
  });

  it('one error lists every missing, unexpected, mis-shaped and wrongly typed key; nothing is written', async () => {
    const m = new ProjectionHead([4, 8, 2], { generator: gen(2) }); // 0.weight, 1.{weight,bias,running_mean,running_var,num_batches_tracked}, 3.{weight,bias}
    const good = readSafetensors(await checkpoint.save(m)).tensors;
    const entries = new Map<string, SafeTensor>(good);
    entries.delete('3.bias');
    entries.delete('1.running_var');
    entries.set('projector.extra', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    entries.set('0.weight', { dtype: 'F32', shape: [8, 5], data: new Float32Array(40) });
    entries.set('1.num_batches_tracked', { dtype: 'F32', shape: [], data: new Float32Array(1) });
    const bad = writeSafetensors(entries);
    const w0 = Array.from(await m.stateDict().get('3.weight')!.data());
    let msg = '';
    try {
      checkpoint.load(m, bad);
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toBe(
      'checkpoint.load(ProjectionHead): keys do not match: 2 missing: 1.running_var, 3.bias; 1 unexpected: projector.extra; '
      + '1 mis-shaped: 0.weight (checkpoint [8,5], module [8,4]); 1 of the wrong type: 1.num_batches_tracked (checkpoint F32, module i32)',
    );
    expect(Array.from(await m.stateDict().get('3.weight')!.data())).toEqual(w0); // checked before anything was written
    // strict: false allows missing and unexpected keys (and returns them), never a bad shape.
    entries.set('0.weight', good.get('0.weight')!);
    entries.set('1.num_batches_tracked', good.get('1.num_batches_tracked')!);
    expect(checkpoint.load(m, writeSafetensors(entries), { strict: false })).toEqual({
      missingKeys: ['1.running_var', '3.bias'], unexpectedKeys: ['projector.extra'],
    });
    expect(() => checkpoint.load(m, writeSafetensors(entries))).toThrow(/2 missing: 1\.running_var, 3\.bias; 1 unexpected: projector\.extra$/);
    expect(() => checkpoint.load(m, new Uint8Array(4))).toThrow(/safetensors: file of 4 bytes/);
    m.dispose();
  });

  it('I32 integer buffers load as well as I64 ones', async () => {
    const m = new ProjectionHead([2, 3, 2], { generator: gen(3) });
    const entries = new Map(readSafetensors(await checkpoint.save(m)).tensors);
    entries.set('1.num_batches_tracked', { dtype: 'I32', shape: [], data: Int32Array.of(7) });
    checkpoint.load(m, writeSafetensors(entries));
    expect(Array.from(await m.stateDict().get('1.num_batches_tracked')!.data())).toEqual([7]);
    m.dispose();
  });

  it('Node helpers save to and load from files', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webgrad-ckpt-'));
    try {
      const a = await trained(4);
      const file = path.join(dir, 'sub', 'tiny.safetensors');
      await wg.saveCheckpointFile(a, file);
      const b = resnetTiny({ inChannels: 1, numClasses: 4, generator: gen(5) });
      await wg.loadCheckpointFile(b, file);
      const x = wg.randn([2, 1, 12, 12], { generator: gen(6) });
      expect(await evalOutput(b, x)).toEqual(await evalOutput(a, x));
      await expect(wg.loadCheckpointFile(b, path.join(dir, 'nope.safetensors'))).rejects.toThrow(/loadCheckpointFile: cannot read '.*nope\.safetensors'/);
      x.dispose();
      a.dispose();
      b.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
