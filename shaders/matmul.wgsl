// matmul.wgsl: the simple strategy of batched C = act(A·B + bias) in f32 (strategy 'simple'):
//   a 4x4 register tile per invocation, every operand read through its strides, no workgroup
//   memory. The reference the tuned strategies (matmul_simd.wgsl, matmul_tiled.wgsl) are tested
//   against; operand layouts, the uniform and the epilogue are in gemm.wgsl.
// Bindings: 0 a, 1 b (read f32) | gemm.wgsl: 2 bias | 3 c | 4 p
// Grid: [tiles_n, tiles_m, batch] with tiles_n = ceil(N / (4*WG_X)), tiles_m = ceil(M / (4*WG_Y)).
//   When a dimension exceeds the per-dimension limit the launcher folds the same workgroup count
//   over x, y, z; the shader linearises (x fastest) and bounds-checks against p.batch.
// Overrides: WG_X, WG_Y (invocations per workgroup along N and M), HAS_BIAS. Slots: ACT.
// K = 0 writes act(bias) (the loop does not run).
//#include "gemm.wgsl"

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

const TM: u32 = 4u;
const TN: u32 = 4u;

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
