// safetensors: round trips, the PyTorch fixtures, and one clear error per malformed file.
import { describe, expect, it } from 'vitest';
import { readSafetensors, toI32, writeSafetensors, type SafeTensor } from '../src/safetensors.js';
import { loadFixture } from './helpers/fixtures.js';

const enc = (header: unknown, data = new Uint8Array(0), pad = true): Uint8Array => {
  let json = JSON.stringify(header);
  if (pad) json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
};

describe('safetensors', () => {
  it('round-trips F32, I32 and I64 with metadata, I64 first for alignment', () => {
    const tensors: [string, SafeTensor][] = [
      ['w', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) }],
      ['idx', { dtype: 'I64', shape: [3], data: BigInt64Array.from([1n, -2n, 3n]) }],
      ['n', { dtype: 'I32', shape: [], data: Int32Array.from([7]) }],
    ];
    const bytes = writeSafetensors(tensors, { note: 'hi' });
    expect((8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))) % 8).toBe(0);
    const back = readSafetensors(bytes);
    expect([...back.tensors.keys()]).toEqual(['w', 'idx', 'n']);
    expect(Array.from(back.tensors.get('w')!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6.5]);
    expect(back.tensors.get('idx')!.data).toEqual(BigInt64Array.from([1n, -2n, 3n]));
    expect(Array.from(toI32('idx', back.tensors.get('idx')!.data as BigInt64Array))).toEqual([1, -2, 3]);
    expect(back.tensors.get('n')!.shape).toEqual([]);
    expect(back.metadata).toEqual({ note: 'hi' });
  });

  it('reads the PyTorch fixtures', () => {
    const fx = loadFixture('linear');
    const [out, inp] = [fx.shape('weight')[0], fx.shape('weight')[1]];
    expect(fx.shape('input').at(-1)).toBe(inp);
    expect(fx.shape('out').at(-1)).toBe(out);
    expect(fx.f32('bias').length).toBe(out);
  });

  it('gives one clear error per malformed file', () => {
    const f32 = new Uint8Array(new Float32Array([1, 2]).buffer);
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(4), /shorter than the 8-byte header length/],
      [(() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 1000n, true); return b; })(), /runs past the end/],
      [(() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 1n << 60n, true); return b; })(), /exceeds/],
      [enc('x'), /not a JSON object/],
      [(() => { const b = enc({}); b[8] = 0x7b; b[9] = 0xff; return b; })(), /not valid UTF-8 JSON/],
      [enc({ a: { dtype: 'F16', shape: [1], data_offsets: [0, 2] } }), /unsupported dtype "F16"/],
      [enc({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }), /invalid shape/],
      [enc({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32), /needs 12 bytes, data_offsets give 8/],
      [enc({ a: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, f32), /runs past the 8-byte data section/],
      [enc({ a: { dtype: 'F32', shape: [1], data_offsets: [2, 6] } }, f32), /not aligned/],
      [enc({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32), /overlap/],
      [enc({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, f32), /invalid data_offsets/],
      [enc({ __metadata__: { k: 1 } }), /__metadata__.k is not a string/],
    ];
    for (const [bytes, msg] of cases) expect(() => readSafetensors(bytes)).toThrow(msg);
    expect(() => writeSafetensors([['a', { dtype: 'F32', shape: [3], data: new Float32Array(2) }]])).toThrow(/2 values for shape \[3\]/);
    expect(() => toI32('x', BigInt64Array.from([1n << 40n]))).toThrow(/does not fit in i32/);
  });
});
