// conv2d_tiled.wgsl: the GPU strategy of conv2d, an implicit GEMM with workgroup-memory tiles
//   gathered straight from the NCHW tensors (read through their strides: no packing, no im2col).
//   Per group g, C[m, col] = sum over k < K of A[m, k] * B[k, col], in one of three modes:
//   MODE 0, forward: a = w, b = x, out = y [N, O, Ho, Wo] (+ bias).
//     A[m, k] = w[g*Og + m, c, kh, kw],  B[k, col] = x[n, g*Cg + c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
//     with k = (c*KH + kh)*KW + kw, col = (n*Ho + oh)*Wo + ow; outside the image B is 0.
//   MODE 1, input gradient (a transposed convolution): a = w, b = dy, out = dx [N, C, H, W].
//     A[m, k] = w[g*Og + o, m, kh, kw],  B[k, col] = dy[n, g*Og + o, (ih + ph - kh*dh) / sh, ...]
//     with k = (o*KH + kh)*KW + kw, col = (n*H + ih)*W + iw; B is 0 where the division is not
//     exact or lands outside dy (the GPU strategy pays the s² structural zeros of a stride).
//   MODE 2, weight gradient: a = dy, b = x, out = [splits, O, Cg, KH, KW] partial sums.
//     A[m, k] = dy[n, g*Og + m, oh, ow],  B[k, col] = x[n, g*Cg + c, oh*sh - ph + kh*dh, ...]
//     with k = (n*Ho + oh)*Wo + ow, col = (c*KH + kh)*KW + kw; split s reduces
//     k in [s*k_per_split, (s+1)*k_per_split) (the launcher sums the splits).
//   Tensor (i0, i1, i2, i3) of a at off_a + dot(i, sa), of b at off_b + dot(i, sb).
// A workgroup of WG_X x WG_Y invocations computes a (4*WG_Y) x (4*WG_X) tile of C, each invocation
//   a 4x4 register tile; K is walked BK at a time, the A and B tiles staged in workgroup memory as
//   vec4s along m (As) and along col (Bs), as in matmul_tiled.wgsl. Elements past M, cols or K are
//   0 in the tiles.
// Bindings: 0 a, 1 b, 2 bias (read f32; dummy unless p.has_bias) | 3 out (read_write f32) | 4 p.
// Grid: [tiles_n * tiles_m * groups * splits] folded over x, y, z (x fastest; bounds-checked).
// Overrides: MODE, WG_X, WG_Y, BK (a multiple of 4). Slots: none. The bias is a uniform flag, not
//   an override: one pipeline fewer to compile per shape (lavapipe JITs each for seconds).
//#include "common.wgsl"

struct Params {
  M: u32, NC: u32, K: u32, groups: u32,
  tiles_m: u32, tiles_n: u32, splits: u32, k_per_split: u32,
  C: u32, H: u32, W: u32, O: u32,
  Ho: u32, Wo: u32, KH: u32, KW: u32,
  sh: u32, sw: u32, ph: u32, pw: u32,
  dh: u32, dw: u32, Cg: u32, Og: u32,
  off_a: u32, off_b: u32, off_bias: u32, out_size: u32,
  has_bias: u32, _p0: u32, _p1: u32, _p2: u32,
  sa: vec4<u32>,
  sb: vec4<u32>,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

override MODE: u32 = 0u;
override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;
override BK: u32 = 16u;

var<workgroup> As: array<vec4<f32>, BK * WG_Y>;
var<workgroup> Bs: array<vec4<f32>, BK * WG_X>;

// x[n, g*Cg + c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw] (b), 0 outside the image.
fn x_tap(g: u32, n: u32, c: u32, oh: u32, ow: u32, kh: u32, kw: u32) -> f32 {
  let ih = i32(oh * p.sh + kh * p.dh) - i32(p.ph);
  let iw = i32(ow * p.sw + kw * p.dw) - i32(p.pw);
  if (ih < 0 || iw < 0 || ih >= i32(p.H) || iw >= i32(p.W)) { return 0.0; }
  return b[p.off_b + n * p.sb.x + (g * p.Cg + c) * p.sb.y + u32(ih) * p.sb.z + u32(iw) * p.sb.w];
}

fn load_a(g: u32, m: u32, k: u32, k_end: u32) -> f32 {
  if (m >= p.M || k >= k_end) { return 0.0; }
  if (MODE == 2u) {
    let ow = k % p.Wo;
    let r = k / p.Wo;
    return a[p.off_a + (r / p.Ho) * p.sa.x + (g * p.Og + m) * p.sa.y + (r % p.Ho) * p.sa.z + ow * p.sa.w];
  }
  let kw = k % p.KW;
  let r = k / p.KW;
  let kh = r % p.KH;
  let i = r / p.KH;
  var o = g * p.Og + m;
  var c = i;
  if (MODE == 1u) { o = g * p.Og + i; c = m; }
  return a[p.off_a + o * p.sa.x + c * p.sa.y + kh * p.sa.z + kw * p.sa.w];
}

fn load_b(g: u32, k: u32, col: u32, k_end: u32) -> f32 {
  if (col >= p.NC || k >= k_end) { return 0.0; }
  if (MODE == 1u) {
    let kw = k % p.KW;
    let r = k / p.KW;
    let kh = r % p.KH;
    let o = r / p.KH;
    let iw = col % p.W;
    let r2 = col / p.W;
    let th = i32(r2 % p.H + p.ph) - i32(kh * p.dh);
    let tw = i32(iw + p.pw) - i32(kw * p.dw);
    if (th < 0 || tw < 0) { return 0.0; }
    let oh = u32(th) / p.sh;
    let ow = u32(tw) / p.sw;
    if (oh * p.sh != u32(th) || ow * p.sw != u32(tw) || oh >= p.Ho || ow >= p.Wo) { return 0.0; }
    return b[p.off_b + (r2 / p.H) * p.sb.x + (g * p.Og + o) * p.sb.y + oh * p.sb.z + ow * p.sb.w];
  }
  // The pixel (n, oh, ow) and the tap (c, kh, kw) are col and k in MODE 0, k and col in MODE 2.
  var pix = col;
  var tap = k;
  if (MODE == 2u) { pix = k; tap = col; }
  let ow = pix % p.Wo;
  let r = pix / p.Wo;
  let kw = tap % p.KW;
  let r2 = tap / p.KW;
  return x_tap(g, r / p.Ho, r2 / p.KH, r % p.Ho, ow, r2 % p.KH, kw);
}

fn store(g: u32, split: u32, m: u32, col: u32, v: f32) {
  if (m >= p.M || col >= p.NC) { return; }
  if (MODE == 0u) {
    let plane = p.Ho * p.Wo;
    let oc = g * p.Og + m;
    var bv = 0.0;
    if (p.has_bias != 0u) { bv = bias[p.off_bias + oc]; }
    out[((col / plane) * p.O + oc) * plane + col % plane] = v + bv;
  } else if (MODE == 1u) {
    let plane = p.H * p.W;
    out[((col / plane) * p.C + g * p.Cg + m) * plane + col % plane] = v;
  } else {
    out[split * p.out_size + (g * p.Og + m) * p.NC + col] = v;
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn conv2d_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_id) lid: vec3<u32>) {
  let lin = wid.x + nwg.x * (wid.y + nwg.y * wid.z);
  let tiles = p.tiles_n * p.tiles_m;
  let split = lin / (tiles * p.groups);
  // Uniform per workgroup: the barriers below stay in uniform control flow.
  if (split >= p.splits) { return; }
  let g = (lin / tiles) % p.groups;
  let t = lin % tiles;
  let n0 = (t % p.tiles_n) * 4u * WG_X;
  let m0 = (t / p.tiles_n) * 4u * WG_Y;
  let li = lid.x + lid.y * WG_X;
  let k_begin = split * p.k_per_split;
  let k_end = min(k_begin + p.k_per_split, p.K);

  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
    for (var q = li; q < WG_Y * BK; q += WG_X * WG_Y) {
      let k = k0 + q / WG_Y;
      let m = m0 + 4u * (q % WG_Y);
      As[q] = vec4<f32>(load_a(g, m, k, k_end), load_a(g, m + 1u, k, k_end), load_a(g, m + 2u, k, k_end), load_a(g, m + 3u, k, k_end));
    }
    for (var q = li; q < WG_X * BK; q += WG_X * WG_Y) {
      let k = k0 + q / WG_X;
      let n = n0 + 4u * (q % WG_X);
      Bs[q] = vec4<f32>(load_b(g, k, n, k_end), load_b(g, k, n + 1u, k_end), load_b(g, k, n + 2u, k_end), load_b(g, k, n + 3u, k_end));
    }
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
  for (var j = 0u; j < 4u; j++) {
    store(g, split, m, n + j, acc0[j]);
    store(g, split, m + 1u, n + j, acc1[j]);
    store(g, split, m + 2u, n + j, acc2[j]);
    store(g, split, m + 3u, n + j, acc3[j]);
  }
}
