// Every shader in shaders/ compiles: each rendered variant is given to Dawn, its
// getCompilationInfo() must hold no error, and a pipeline for every entry point must validate.
import { describe, expect, it } from 'vitest';
import { SHADERS } from '../src/shaders.generated.js';
import { renderShader, type Slots } from '../src/shader_source.js';
import { gpu } from './helpers/gpu.js';

const rt = await gpu();

/** Slot sets per shader: every shader with slots needs at least one; included-only files none. */
const ATTN_SIMD = { ENABLE: 'enable subgroups;', SG: 8, WG: 8, R: 2, HD4: 2, VEC: 1, SCL: 0, BC: 'subgroupBroadcast' };
const ATTN_PORTABLE = { ENABLE: '', SG: 1, WG: 64, R: 1, HD4: 3, VEC: 0, SCL: 1, BC: 'pick' };
const SAMPLES: Record<string, Slots[]> = {
  attention_fwd: [ATTN_SIMD, ATTN_PORTABLE],
  attention_bwd_q: [ATTN_SIMD, ATTN_PORTABLE],
  attention_bwd_kv: [{ ...ATTN_SIMD, BCF: 'subgroupBroadcast' }, { ...ATTN_PORTABLE, BCF: 'pickf' }],
  elementwise: [
    { TA: 'f32', TB: 'f32', TC: 'f32', TO: 'f32', EXPR: 'a + b * c' },
    { TA: 'i32', TB: 'i32', TC: 'f32', TO: 'f32', EXPR: 'select(0.0, 1.0, a < b)' },
    { TA: 'f32', TB: 'f32', TC: 'f32', TO: 'f32', EXPR: 'pow_s(a, b) + erf_s(a) + tanh_s(b) + sigmoid_s(c)' },
  ],
  knn: [{ KMAX: 32 }, { KMAX: 1024 }],
  matmul: [{ ACT: 'v' }, { ACT: '0.5 * v * (1.0 + erf_s(v * 0.70710678118654752))' }],
  matmul_tiled: [{ ACT: 'v' }, { ACT: '0.5 * v * (1.0 + tanh_s(0.79788456080286536 * (v + 0.044715 * v * v * v)))' }],
  matmul_simd: [
    { SG: 8, RA: 2, CB: 4, ACT: 'v' },
    { SG: 4, RA: 1, CB: 1, ACT: 'max(v, 0.0)' },
  ],
  conv2d_simd: [{ SG: 8, RA: 2, CB: 4 }, { SG: 4, RA: 1, CB: 1 }],
  conv2d_simd_dw: [{ SG: 8, RA: 1, CB: 1 }, { SG: 4, RA: 1, CB: 2 }],
  contrastive_simd: [{ SG: 8, RA: 2, CB: 4 }, { SG: 4, RA: 1, CB: 1 }],
  memory_bank: [{ V: 'f32', DOT: 'a * b' }, { V: 'vec4<f32>', DOT: 'dot(a, b)' }],
  reduce: [
    { T: 'f32', TO: 'f32', SG: 0, XOR: 'xor_wg(v, m, lid)' },
    { T: 'i32', TO: 'i32', SG: 1, XOR: 'subgroupShuffleXor(v, m)' },
    { T: 'u32', TO: 'i32', SG: 0, XOR: 'xor_wg(v, m, lid)' },
  ],
  softmax: [
    { SG: 0, XOR: 'xor_wg(v, m, lid)' },
    { SG: 1, XOR: 'subgroupShuffleXor(v, m)' },
  ],
  batch_norm: [
    { SG: 0, XOR: 'xor_wg(v, m, lid)', V: 'f32', CH: 1 },
    { SG: 1, XOR: 'subgroupShuffleXor(v, m)', V: 'vec4<f32>', CH: 4 },
  ],
  layer_norm: [
    { SG: 1, XOR: 'subgroupShuffleXor(v, m)', V: 'f32', CH: 1 },
    { SG: 0, XOR: 'xor_wg(v, m, lid)', V: 'vec4<f32>', CH: 4 },
  ],
  augment_color: [
    { SG: 0, XOR: 'xor_wg(v, m, lid)', V: 'f32', CH: 1 },
    { SG: 1, XOR: 'subgroupShuffleXor(v, m)', V: 'f32', CH: 1 },
  ],
};
/** Files compiled only through the shaders that include them (rows.wgsl and gemm.wgsl need the includer's declarations; moments.wgsl its slots). */
const INCLUDE_ONLY = new Set(['common', 'attention_common', 'attention_load', 'attention_store', 'rows', 'gemm', 'moments', 'augment_common']);
/** Variants that enable subgroups compile only where the device has the feature. */
const usable = (code: string) => !/^\s*enable subgroups;/m.test(code) || rt!.hasFeature('subgroups');

const entriesOf = (code: string) => [...code.matchAll(/@compute[^]*?fn\s+(\w+)\s*\(/g)].map((m) => m[1]);

describe.skipIf(!rt)('shaders compile', () => {
  const names = Object.keys(SHADERS).filter((n) => !INCLUDE_ONLY.has(n));
  it('every shader file is covered', () => {
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) {
      const src = SHADERS[n];
      const hasSlots = /\{\{\w+\}\}/.test(src.replace(/\/\/#repeat[^\n]*\n/g, ''));
      if (hasSlots) expect(SAMPLES[n], `add sample slots for shaders/${n}.wgsl`).toBeDefined();
    }
  });

  for (const name of Object.keys(SHADERS).filter((n) => !INCLUDE_ONLY.has(n))) {
    it(`${name}.wgsl`, async () => {
      const device = rt!.device;
      for (const slots of SAMPLES[name] ?? [{}]) {
        const code = renderShader(name, slots);
        if (!usable(code)) continue;
        const module = device.createShaderModule({ code, label: `compile-test:${name}` });
        const info = await module.getCompilationInfo();
        const errors = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
        expect(errors, `${name} with ${JSON.stringify(slots)}`).toEqual([]);
        const entries = entriesOf(code);
        expect(entries.length).toBeGreaterThan(0);
        for (const entryPoint of entries) {
          device.pushErrorScope('validation');
          device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint }, label: `${name}.${entryPoint}` });
          const err = await device.popErrorScope();
          expect(err?.message ?? null, `${name}.${entryPoint}`).toBeNull();
        }
      }
    });
  }
});
