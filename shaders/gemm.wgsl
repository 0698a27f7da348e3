// gemm.wgsl: what the strided matmul kernels (matmul.wgsl, matmul_tiled.wgsl) share: the
//   uniform, the bias and output bindings, batch offsets, the fused epilogue and the edge-aware
//   row store. The including file declares `a` (binding 0) and `b` (binding 1) with its own types.
//   A: logical [batch..., M, K], element (m, k) at off_a + boff_a + m*sam + k*sak
//   B: logical [batch..., K, N], element (k, n) at off_b + boff_b + k*sbk + n*sbn
//   (a transpose is a swap of strides in the launcher; boff_* from the batch index decomposed over
//   p.bshape with strides p.bsa / p.bsb). C: [batch, M, N] contiguous.
// Bindings: 2 bias (read; unread without HAS_BIAS) | 3 c (read_write) | 4 p.
// Slots: ACT (epilogue expression of v). Overrides: HAS_BIAS.
//#include "common.wgsl"

struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  sam: u32, sak: u32, sbk: u32, sbn: u32,
  off_a: u32, off_b: u32, brank: u32, tiles_n: u32,
  tiles_m: u32, off_bias: u32, _p1: u32, _p2: u32,
  bshape: array<vec4<u32>, 2>,
  bsa: array<vec4<u32>, 2>,
  bsb: array<vec4<u32>, 2>,
}

@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

override HAS_BIAS: u32 = 0u;

// The epilogue: act(v + bias[n]) (slot ACT: an expression of v).
fn epilogue(acc: f32, n: u32) -> f32 {
  var v = acc;
  if (HAS_BIAS != 0u) { v += bias[p.off_bias + n]; }
  return {{ACT}};
}

// Element offsets of batch entry `bi` in a and b (x: a, y: b).
fn batch_offsets(bi: u32) -> vec2<u32> {
  var rem = bi;
  var o = vec2<u32>(p.off_a, p.off_b);
  for (var d = i32(p.brank) - 1; d >= 0; d--) {
    let u = u32(d);
    let dim = at8(p.bshape, u);
    let i = rem % dim;
    rem = rem / dim;
    o += i * vec2<u32>(at8(p.bsa, u), at8(p.bsb, u));
  }
  return o;
}

// Writes row `m` of a register tile (columns n0..n0+3, those below N) at C offset `base`.
fn store_row(m: u32, n0: u32, base: u32, v: vec4<f32>) {
  if (m >= p.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (n0 + j < p.N) { c[base + j] = epilogue(v[j], n0 + j); }
  }
}
