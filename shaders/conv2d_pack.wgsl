// conv2d_pack.wgsl: the packing kernels of the CPU-SIMD conv2d (conv2d_simd.wgsl,
//   conv2d_simd_dw.wgsl). Every GEMM load there is one vec4 along the channels of a group, so
//   operands are rewritten channels-last with each group's channels zero-padded to a multiple of 4.
//
// conv2d_pack_input: an NCHW tensor (x, or dy for the backward) read through its strides, to
//   dst[n][hp][wp][g][c4] (vec4; channels 4*c4 .. 4*c4+3 of group g), hp < HP, wp < WP, with
//   (hp, wp) = (h + pt, w + pl): pt rows / pl columns of zeros before the image, and zeros after it
//   up to HP / WP, so the GEMMs read padding without bounds checks.
//   src (n, c, h, w) at off + n*s.x + c*s.y + h*s.z + w*s.w; c = g*Cg + 4*c4 + j (0 when 4*c4+j >= Cg).
//   Bindings: 0 src (read f32) | 1 dst (read_write vec4) | 2 pi (PackIn).
// conv2d_pack_weight: a [O, Cg, KH, KW] weight read through its strides, to rows of vec4s
//   dst[r][kh][kw][k4], element j of the vec4 = src(row r, k = 4*k4 + j) (0 past K), where row r
//   of group g = r / Rg, rr = r % Rg reads src at off + g*gs + rr*rs + k*ks + kh*s_kh + kw*s_kw.
//   Forward (rows = output channels, k = input channel): Rg = O, rs = stride of O, ks = of Cg.
//   Input gradient (rows = input channels g*Cg + c, k = output channel in the group): Rg = Cg,
//   gs = Og * stride of O, rs = stride of Cg, ks = stride of O.
//   Bindings: 0 src (read f32) | 1 dst (read_write vec4) | 2 pw (PackW).
// Grid: one thread per dst vec4, ceil(n / 64) workgroups split over x/y (linear_wg).
// Slots: none. Overrides: none.
//#include "common.wgsl"

struct PackIn {
  n: u32, C4: u32, G: u32, Cg: u32,
  HP: u32, WP: u32, pt: u32, pl: u32,
  H: u32, W: u32, off: u32, _p0: u32,
  s: vec4<u32>,
}

struct PackW {
  n: u32, K4: u32, K: u32, taps: u32,
  KW: u32, Rg: u32, off: u32, gs: u32,
  rs: u32, ks: u32, s_kh: u32, s_kw: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> pi: PackIn;

@compute @workgroup_size(64)
fn conv2d_pack_input(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let t = linear_wg(wid, nwg) * 64u + lid;
  if (t >= pi.n) { return; }
  let c4 = t % pi.C4;
  var r = t / pi.C4;
  let g = r % pi.G;
  r = r / pi.G;
  let wp = r % pi.WP;
  r = r / pi.WP;
  let hp = r % pi.HP;
  let n = r / pi.HP;
  var v = vec4<f32>(0.0);
  // Unsigned wrap-around makes rows / columns before the image fail the < H / < W test too.
  let h = hp - pi.pt;
  let w = wp - pi.pl;
  if (hp >= pi.pt && wp >= pi.pl && h < pi.H && w < pi.W) {
    let base = pi.off + n * pi.s.x + h * pi.s.z + w * pi.s.w;
    for (var j = 0u; j < 4u; j++) {
      let c = 4u * c4 + j;
      if (c < pi.Cg) { v[j] = src[base + (g * pi.Cg + c) * pi.s.y]; }
    }
  }
  dst[t] = v;
}

@group(0) @binding(2) var<uniform> pw: PackW;

@compute @workgroup_size(64)
fn conv2d_pack_weight(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                      @builtin(local_invocation_index) lid: u32) {
  let t = linear_wg(wid, nwg) * 64u + lid;
  if (t >= pw.n) { return; }
  let k4 = t % pw.K4;
  let r2 = t / pw.K4;
  let tap = r2 % pw.taps;
  let row = r2 / pw.taps;
  let base = pw.off + (row / pw.Rg) * pw.gs + (row % pw.Rg) * pw.rs + (tap / pw.KW) * pw.s_kh + (tap % pw.KW) * pw.s_kw;
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    let k = 4u * k4 + j;
    if (k < pw.K) { v[j] = src[base + k * pw.ks]; }
  }
  dst[t] = v;
}
