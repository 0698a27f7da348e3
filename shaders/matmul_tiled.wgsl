// matmul_tiled.wgsl: batched C = act(A·B + bias) in f32, the GPU strategy: workgroup-memory tiling.
//   A: logical [batch..., M, K], element (m, k) at off_a + boff_a + m*sam + k*sak
//   B: logical [batch..., K, N], element (k, n) at off_b + boff_b + k*sbk + n*sbn
//      A transpose is a swap of (sam, sak) or (sbk, sbn) in the launcher, never a copy. Batch dims
//      are broadcast by the launcher (stride 0) and merged; boff_* come from the batch index
//      decomposed over p.bshape with strides p.bsa / p.bsb.
//   C: [batch, M, N] contiguous.
// A workgroup of WG_X x WG_Y invocations computes a (4*WG_Y) x (4*WG_X) tile of C, each invocation
//   a 4x4 register tile (rows 4*lid.y.., columns 4*lid.x..). K is walked in steps of BK; a step's
//   A and B tiles are staged in workgroup memory as vec4s along m (As) and along n (Bs), so the
//   inner loop reads one vec4 of each per k: 16 FMAs per two workgroup loads.
// Loads: an operand is read in quads, 4 elements consecutive along one axis: along k
//   (A_ALONG_K / B_ALONG_K = 1) or along m / n (= 0); the launcher picks the axis of the smaller
//   stride so neighbouring invocations read neighbouring addresses. With A_V4 / B_V4 a quad is one
//   vec4 load: the launcher sets it when that axis has stride 1 and the other stride, the offset
//   and the batch strides are multiples of 4. Otherwise four scalar loads. Elements past M, N or K
//   are 0 in the tiles, so edge tiles need no other case.
//   a and b are bound as array<vec4<f32>> (a scalar load picks a component): this needs every
//   operand buffer to be a whole number of vec4s (pool size classes are; the launcher asserts it).
// Bindings: 0 a, 1 b, 2 bias (read; unread without HAS_BIAS) | 3 c (read_write) | 4 p
// Epilogue: c = ACT(acc + bias[n]) (slot ACT, an expression of v; override HAS_BIAS).
//   K = 0 writes act(bias) (the k loop does not run).
// Grid: [tiles_n, tiles_m, batch], tiles_n = ceil(N / (4*WG_X)), tiles_m = ceil(M / (4*WG_Y)).
//   Above the per-dimension limit the launcher folds the same count over x, y, z; the shader
//   linearises (x fastest) and bounds-checks against p.batch.
// Overrides: WG_X, WG_Y (invocations along N and M), BK (k step, a multiple of 4), A_ALONG_K, A_V4,
//   B_ALONG_K, B_V4, HAS_BIAS. Slots: ACT.
//#include "gemm.wgsl"

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;

override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
override BK: u32 = 16u;
override A_ALONG_K: u32 = 1u;
override A_V4: u32 = 0u;
override B_ALONG_K: u32 = 0u;
override B_V4: u32 = 0u;

// As[k * WG_Y + i] = A[m0 + 4i .. m0 + 4i + 3, k0 + k];  Bs[k * WG_X + j] = B[k0 + k, n0 + 4j .. n0 + 4j + 3]
var<workgroup> As: array<vec4<f32>, BK * WG_Y>;
var<workgroup> Bs: array<vec4<f32>, BK * WG_X>;

const LANE = vec4<u32>(0u, 1u, 2u, 3u);

// The quad of `a` at elements e, e+s, e+2s, e+3s, of which the first nv (0..4) are inside the
// matrix; the others are 0. With A_V4, s = 1 and e is a multiple of 4 (one aligned vec4).
fn quad_a(e: u32, s: u32, nv: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (A_V4 != 0u) {
    if (nv > 0u) { v = a[e >> 2u]; }
  } else {
    for (var j = 0u; j < nv; j++) { let i = e + j * s; v[j] = a[i >> 2u][i & 3u]; }
  }
  return select(vec4<f32>(0.0), v, LANE < vec4<u32>(nv)); // the vec4 may reach past the edge
}

// quad_a for b (storage pointers cannot be passed to a function in core WGSL).
fn quad_b(e: u32, s: u32, nv: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (B_V4 != 0u) {
    if (nv > 0u) { v = b[e >> 2u]; }
  } else {
    for (var j = 0u; j < nv; j++) { let i = e + j * s; v[j] = b[i >> 2u][i & 3u]; }
  }
  return select(vec4<f32>(0.0), v, LANE < vec4<u32>(nv));
}

// Stages A[m0 .. m0 + 4*WG_Y, k0 .. k0 + BK] into As: WG_Y*BK quads over the workgroup (li = flat
// invocation index). Along k, a quad holds one row's 4 k and is scattered over 4 vec4s of As.
fn load_a(li: u32, ao: u32, m0: u32, k0: u32) {
  for (var q = li; q < WG_Y * BK; q += WG_X * WG_Y) {
    if (A_ALONG_K != 0u) {
      let r = q / (BK / 4u);
      let kk = 4u * (q % (BK / 4u));
      let m = m0 + r;
      let k = k0 + kk;
      let nv = select(0u, min(p.K - k, 4u), m < p.M && k < p.K);
      let v = quad_a(ao + m * p.sam + k * p.sak, p.sak, nv);
      for (var j = 0u; j < 4u; j++) { As[(kk + j) * WG_Y + r / 4u][r % 4u] = v[j]; }
    } else {
      let k = k0 + q / WG_Y;
      let m = m0 + 4u * (q % WG_Y);
      let nv = select(0u, min(p.M - m, 4u), k < p.K && m < p.M);
      As[q] = quad_a(ao + m * p.sam + k * p.sak, p.sam, nv);
    }
  }
}

// Stages B[k0 .. k0 + BK, n0 .. n0 + 4*WG_X] into Bs, as load_a does for A.
fn load_b(li: u32, bo: u32, n0: u32, k0: u32) {
  for (var q = li; q < WG_X * BK; q += WG_X * WG_Y) {
    if (B_ALONG_K != 0u) {
      let col = q / (BK / 4u);
      let kk = 4u * (q % (BK / 4u));
      let n = n0 + col;
      let k = k0 + kk;
      let nv = select(0u, min(p.K - k, 4u), n < p.N && k < p.K);
      let v = quad_b(bo + k * p.sbk + n * p.sbn, p.sbk, nv);
      for (var j = 0u; j < 4u; j++) { Bs[(kk + j) * WG_X + col / 4u][col % 4u] = v[j]; }
    } else {
      let k = k0 + q / WG_X;
      let n = n0 + 4u * (q % WG_X);
      let nv = select(0u, min(p.N - n, 4u), k < p.K && n < p.N);
      Bs[q] = quad_b(bo + k * p.sbk + n * p.sbn, p.sbn, nv);
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn matmul_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
  let lin = wid.x + nwg.x * (wid.y + nwg.y * wid.z);
  let tiles = p.tiles_n * p.tiles_m;
  let bi = lin / tiles;
  // Uniform per workgroup: the barriers below stay in uniform control flow.
  if (bi >= p.batch) { return; }
  let t = lin % tiles;
  let n0 = (t % p.tiles_n) * 4u * WG_X;
  let m0 = (t / p.tiles_n) * 4u * WG_Y;
  let li = lid.x + lid.y * WG_X;
  let bo = batch_offsets(bi);

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    load_a(li, bo.x, m0, k0);
    load_b(li, bo.y, n0, k0);
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      let av = As[k * WG_Y + lid.y];
      let bv = Bs[k * WG_X + lid.x];
      acc0 += av.x * bv;
      acc1 += av.y * bv;
      acc2 += av.z * bv;
      acc3 += av.w * bv;
    }
    workgroupBarrier(); // the next step overwrites the tiles
  }

  let m = m0 + 4u * lid.y;
  let n = n0 + 4u * lid.x;
  if (m >= p.M || n >= p.N) { return; }
  let row = (bi * p.M + m) * p.N + n;
  store_row(m, n, row, acc0);
  store_row(m + 1u, n, row + p.N, acc1);
  store_row(m + 2u, n, row + 2u * p.N, acc2);
  store_row(m + 3u, n, row + 3u * p.N, acc3);
}
