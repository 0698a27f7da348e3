// pool.wgsl: 2-D pooling over NCHW planes, forward and backward, with PyTorch's semantics:
//   max pool   (kernel, stride, padding acting as -inf, dilation; writes the argmax per output)
//   avg pool   (kernel, stride, zero padding; divisor k_h*k_w with count_include_pad, else the
//               number of in-bounds elements of the window)
//   adaptive average pool (window [floor(i*H/OH), ceil((i+1)*H/OH)) per output row, likewise
//               for columns; OH = OW = 1 is global average pooling)
// Layouts: the strided operand (x in the forwards, dy in the backwards) is [N, C, rows, cols] read
//   at p.off + n*p.st_n + c*p.st_c + r*p.st_h + q*p.st_w, so views are read in place. Outputs are
//   contiguous: y, idx [N, C, OH, OW]; dx [N, C, H, W]. idx is i32, the flat position y*W + x of
//   the maximum within its input plane (as PyTorch's indices), -1 for a window with no in-bounds
//   element.
// Backwards gather per input element instead of scattering per output, so no atomics are needed
//   and the sums are deterministic: input row iy is covered by the outputs oy with
//   oy*sh - ph + ky*dh == iy for some ky < kh (at most one ky per oy), and by the adaptive rows
//   oy in [floor(iy*OH/H), ceil((iy+1)*OH/H)). Overlapping windows (3x3 stride 2) simply find
//   several outputs. A max-pool output passes its gradient only to the element its idx names.
// Bindings: 0 x | dy (f32), 1 idx (i32: pool_max_bwd only) | 2 y | dx (f32), 3 idx_out (i32:
//   pool_max_fwd only) | 4 p. Entry points bind only what they use.
// Entry points: pool_max_fwd, pool_max_bwd, pool_avg_fwd, pool_avg_bwd, pool_adaptive_fwd,
//   pool_adaptive_bwd. Forwards run one invocation per output element, backwards one per input
//   element.
// Grid: ceil(p.n / WG) workgroups, split over x/y above 65535 (linear_wg).
// Overrides: WG (threads per workgroup). Slots: none.
//#include "common.wgsl"

struct Params {
  n: u32, c: u32, h: u32, w: u32,            // threads; channels; input plane H, W
  oh: u32, ow: u32, include_pad: u32, off: u32, // output plane; count_include_pad; operand offset
  kh: i32, kw: i32, sh: i32, sw: i32,        // kernel, stride
  ph: i32, pw: i32, dh: i32, dw: i32,        // padding, dilation
  st_n: u32, st_c: u32, st_h: u32, st_w: u32, // strides of the strided operand
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> idx_in: array<i32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx_out: array<i32>;
@group(0) @binding(4) var<uniform> p: Params;

override WG: u32 = 64u;

// Element `i` of a contiguous [N*C, rows, cols] grid as (plane, row, col).
fn split3(i: u32, rows: u32, cols: u32) -> vec3<u32> {
  let q = i % cols;
  let t = i / cols;
  return vec3<u32>(t / rows, t % rows, q);
}

// Offset of (plane, row, col) in the strided operand.
fn at_src(plane: u32, r: u32, q: u32) -> u32 {
  return p.off + (plane / p.c) * p.st_n + (plane % p.c) * p.st_c + r * p.st_h + q * p.st_w;
}

fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// Divisor of the avg-pool window starting at (y0, x0) (unclipped, may be negative).
fn avg_count(y0: i32, x0: i32) -> f32 {
  if (p.include_pad != 0u) {
    // PyTorch clips the window to the padded input before counting; with floor-mode output sizes
    // it always fits, so this is kh * kw.
    let ye = min(y0 + p.kh, i32(p.h) + p.ph);
    let xe = min(x0 + p.kw, i32(p.w) + p.pw);
    return f32((ye - y0) * (xe - x0));
  }
  let ys = max(y0, 0);
  let xs = max(x0, 0);
  let ye = min(y0 + p.kh, i32(p.h));
  let xe = min(x0 + p.kw, i32(p.w));
  return f32((ye - ys) * (xe - xs));
}

// Adaptive window [start, end) of output o over an axis of n inputs into m outputs.
fn ad_start(o: u32, n: u32, m: u32) -> u32 { return (o * n) / m; }
fn ad_end(o: u32, n: u32, m: u32) -> u32 { return ((o + 1u) * n + m - 1u) / m; }

@compute @workgroup_size(WG)
fn pool_max_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  let o = split3(i, p.oh, p.ow);
  let y0 = i32(o.y) * p.sh - p.ph;
  let x0 = i32(o.z) * p.sw - p.pw;
  var ninf_bits = 0xff800000u; // a var, so no const-evaluation rejects the infinity
  var best = bitcast<f32>(ninf_bits);
  var bi = -1;
  for (var ky = 0; ky < p.kh; ky++) {
    let yy = y0 + ky * p.dh;
    if (yy < 0 || yy >= i32(p.h)) { continue; }
    for (var kx = 0; kx < p.kw; kx++) {
      let xx = x0 + kx * p.dw;
      if (xx < 0 || xx >= i32(p.w)) { continue; }
      let v = src[at_src(o.x, u32(yy), u32(xx))];
      // Strictly greater keeps the first maximum (PyTorch's tie rule); NaN wins and propagates.
      if (bi < 0 || v > best || is_nan(v)) {
        best = v;
        bi = yy * i32(p.w) + xx;
      }
    }
  }
  dst[i] = best;
  idx_out[i] = bi;
}

@compute @workgroup_size(WG)
fn pool_max_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  let e = split3(i, p.h, p.w);
  let me = i32(e.y * p.w + e.z);
  var acc = 0.0;
  for (var ky = 0; ky < p.kh; ky++) {
    let ty = i32(e.y) + p.ph - ky * p.dh;
    if (ty < 0) { break; } // ty only decreases with ky
    if (ty % p.sh != 0 || ty / p.sh >= i32(p.oh)) { continue; }
    let oy = u32(ty / p.sh);
    for (var kx = 0; kx < p.kw; kx++) {
      let tx = i32(e.z) + p.pw - kx * p.dw;
      if (tx < 0) { break; }
      if (tx % p.sw != 0 || tx / p.sw >= i32(p.ow)) { continue; }
      let ox = u32(tx / p.sw);
      if (idx_in[(e.x * p.oh + oy) * p.ow + ox] == me) { acc += src[at_src(e.x, oy, ox)]; }
    }
  }
  dst[i] = acc;
}

@compute @workgroup_size(WG)
fn pool_avg_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  let o = split3(i, p.oh, p.ow);
  let y0 = i32(o.y) * p.sh - p.ph;
  let x0 = i32(o.z) * p.sw - p.pw;
  var s = 0.0;
  for (var yy = max(y0, 0); yy < min(y0 + p.kh, i32(p.h)); yy++) {
    for (var xx = max(x0, 0); xx < min(x0 + p.kw, i32(p.w)); xx++) {
      s += src[at_src(o.x, u32(yy), u32(xx))];
    }
  }
  dst[i] = s / avg_count(y0, x0);
}

@compute @workgroup_size(WG)
fn pool_avg_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  let e = split3(i, p.h, p.w);
  var acc = 0.0;
  for (var ky = 0; ky < p.kh; ky++) {
    let ty = i32(e.y) + p.ph - ky;
    if (ty < 0) { break; }
    if (ty % p.sh != 0 || ty / p.sh >= i32(p.oh)) { continue; }
    let oy = ty / p.sh;
    for (var kx = 0; kx < p.kw; kx++) {
      let tx = i32(e.z) + p.pw - kx;
      if (tx < 0) { break; }
      if (tx % p.sw != 0 || tx / p.sw >= i32(p.ow)) { continue; }
      let ox = tx / p.sw;
      let cnt = avg_count(oy * p.sh - p.ph, ox * p.sw - p.pw);
      acc += src[at_src(e.x, u32(oy), u32(ox))] / cnt;
    }
  }
  dst[i] = acc;
}

@compute @workgroup_size(WG)
fn pool_adaptive_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  let o = split3(i, p.oh, p.ow);
  let ys = ad_start(o.y, p.h, p.oh);
  let ye = ad_end(o.y, p.h, p.oh);
  let xs = ad_start(o.z, p.w, p.ow);
  let xe = ad_end(o.z, p.w, p.ow);
  var s = 0.0;
  for (var yy = ys; yy < ye; yy++) {
    for (var xx = xs; xx < xe; xx++) { s += src[at_src(o.x, yy, xx)]; }
  }
  dst[i] = s / f32((ye - ys) * (xe - xs));
}

@compute @workgroup_size(WG)
fn pool_adaptive_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                     @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  let e = split3(i, p.h, p.w);
  // The outputs whose windows contain (iy, ix): the same floor/ceil formulas with H and OH swapped.
  let oys = ad_start(e.y, p.oh, p.h);
  let oye = ad_end(e.y, p.oh, p.h);
  let oxs = ad_start(e.z, p.ow, p.w);
  let oxe = ad_end(e.z, p.ow, p.w);
  var acc = 0.0;
  for (var oy = oys; oy < oye; oy++) {
    let rows = ad_end(oy, p.h, p.oh) - ad_start(oy, p.h, p.oh);
    for (var ox = oxs; ox < oxe; ox++) {
      let cols = ad_end(ox, p.w, p.ow) - ad_start(ox, p.w, p.ow);
      acc += src[at_src(e.x, oy, ox)] / f32(rows * cols);
    }
  }
  dst[i] = acc;
}
