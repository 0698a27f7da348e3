// matmul.wgsl: batched C = A·B in f32, every operand read through its strides (correct-first
//   strategy: a 4x4 register tile per invocation, no workgroup memory; the tuned CPU-SIMD and GPU
//   strategies come later).
//   A: logical [batch..., M, K], element (m, k) at off_a + boff_a + m*sam + k*sak
//   B: logical [batch..., K, N], element (k, n) at off_b + boff_b + k*sbk + n*sbn
//      A transpose is only a swap of (sam, sak) or (sbk, sbn) in the launcher: never a copy.
//      Batch dims are broadcast by the launcher (stride 0) and merged where contiguous; boff_*
//      come from the batch index decomposed over p.bshape with strides p.bsa / p.bsb.
//   C: [batch, M, N] contiguous.
// Bindings: 0 a, 1 b, 2 bias (read; bias unbound without HAS_BIAS) | 3 c (read_write) | 4 p
// Epilogue: c = ACT(acc + bias[n]) (slot ACT, an expression of v; override HAS_BIAS).
// Grid: [tiles_n, tiles_m, batch] with tiles_n = ceil(N / (4*WG_X)), tiles_m = ceil(M / (4*WG_Y)).
//   When a dimension exceeds the per-dimension limit the launcher folds the same workgroup count
//   over x, y, z; the shader linearises (x fastest) and bounds-checks against p.batch.
// Overrides: WG_X, WG_Y (invocations per workgroup along N and M), HAS_BIAS. Slots: ACT.
// K = 0 writes act(bias) (the loop does not run).
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

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override HAS_BIAS: u32 = 0u;

// The epilogue: act(v + bias[n]) (slot ACT: an expression of v).
fn epilogue(acc: f32, n: u32) -> f32 {
  var v = acc;
  if (HAS_BIAS != 0u) { v += bias[p.off_bias + n]; }
  return {{ACT}};
}
const TM: u32 = 4u;
const TN: u32 = 4u;

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

// Writes row `m` of the tile (columns n0..n0+3, those below N) at C offset `base` = (bi*M + m)*N + n0.
fn store_row(m: u32, n0: u32, base: u32, v: vec4<f32>) {
  if (m >= p.M) { return; }
  for (var j = 0u; j < TN; j++) {
    if (n0 + j < p.N) { c[base + j] = epilogue(v[j], n0 + j); }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_tile(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_id) lid: vec3<u32>) {
  let lin = wid.x + nwg.x * (wid.y + nwg.y * wid.z);
  let tiles = p.tiles_n * p.tiles_m;
  let bi = lin / tiles;
  if (bi >= p.batch) { return; }
  let t = lin % tiles;
  let n0 = ((t % p.tiles_n) * WG_X + lid.x) * TN;
  let m0 = ((t / p.tiles_n) * WG_Y + lid.y) * TM;
  if (m0 >= p.M || n0 >= p.N) { return; } // no barriers below: returning early is safe

  let bo = batch_offsets(bi);
  // Rows and columns past the edge are clamped to the last one: the loads stay in bounds and the
  // inner loop stays branch-free; store_row drops those results.
  let am = bo.x + min(vec4<u32>(m0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.M - 1u)) * p.sam;
  let bn = bo.y + min(vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.N - 1u)) * p.sbn;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k = 0u; k < p.K; k++) {
    let ka = k * p.sak;
    let kb = k * p.sbk;
    let bv = vec4<f32>(b[bn.x + kb], b[bn.y + kb], b[bn.z + kb], b[bn.w + kb]);
    acc0 += a[am.x + ka] * bv;
    acc1 += a[am.y + ka] * bv;
    acc2 += a[am.z + ka] * bv;
    acc3 += a[am.w + ka] * bv;
  }
  let row = (bi * p.M + m0) * p.N + n0;
  store_row(m0, n0, row, acc0);
  store_row(m0 + 1u, n0, row + p.N, acc1);
  store_row(m0 + 2u, n0, row + 2u * p.N, acc2);
  store_row(m0 + 3u, n0, row + 3u * p.N, acc3);
}
