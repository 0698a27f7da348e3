// pack_vec4.wgsl: writes a strided f32 operand as contiguous vec4 rows along its reduction axis,
//   the layout the CPU-SIMD kernels load (matmul_simd's A and Bᵀ, contrastive_simd's A and B):
//   dst[(i * R + r) * K4 + k4] = (src[so(i) + r*srs + k*sks] for k = 4k4 .. 4k4+3, 0 past K)
//   for the operand's matrices i (decomposed over pshape with element strides pstr; a stride of 0
//   repeats the matrix), rows r < R, K4 = ceil(K / 4) vec4s per row, so(i) = off + sum of strides.
//   One thread per vec4. Bindings: 0 src (read f32) | 1 dst (read_write vec4) | 2 pk (Pack).
//   Grid ceil(n / 64), split over x/y (linear_wg). Launcher: src/kernels/pack.ts.
//#include "common.wgsl"

struct Pack {
  n: u32, R: u32, K: u32, K4: u32,
  srs: u32, sks: u32, off: u32, prank: u32,
  pshape: array<vec4<u32>, 2>,
  pstr: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> pk: Pack;

@compute @workgroup_size(64)
fn pack(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = linear_wg(wid, nwg) * 64u + lid;
  if (t >= pk.n) { return; }
  let k4 = t % pk.K4;
  let row = t / pk.K4;
  let r = row % pk.R;
  var rem = row / pk.R;
  var o = pk.off + r * pk.srs;
  for (var d = i32(pk.prank) - 1; d >= 0; d--) {
    let u = u32(d);
    let dim = at8(pk.pshape, u);
    o += (rem % dim) * at8(pk.pstr, u);
    rem = rem / dim;
  }
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    let k = k4 * 4u + j;
    if (k < pk.K) { v[j] = src[o + k * pk.sks]; }
  }
  dst[t] = v;
}
