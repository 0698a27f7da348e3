// softmax.wgsl: softmax and log_softmax along one axis, logsumexp over any set of axes.
//   One online pass over a row gives its max m and s = sum(exp(x - m)) (each new maximum rescales
//   s; Milakov & Gimelshein 2018), so exp never sees a positive argument: logits of 1e4 are fine.
//   Then softmax = exp(x - m) / s, log_softmax = (x - m) - log(s), logsumexp = m + log(s).
//   -inf entries add nothing; a row of only -inf gives softmax NaN and logsumexp -inf (PyTorch).
//   x: any strided f32 view, read in place through rows.wgsl (no copies).
//   out: softmax / log_softmax: x's shape, addressed through oso and inner_so (the launcher makes
//   it contiguous); logsumexp: [rows] contiguous.
// Bindings: 0 x (read) | 1 out (read_write) | 2 p (uniform Params).
// Entry points and grids (split over x/y above 65,535 workgroups; linear_wg):
//   softmax_serial  one invocation per row, serial loops. Grid ceil(rows / WG).
//   softmax_row     one workgroup per row, lanes stride over the row and meet in a butterfly
//                   (slot XOR). Grid rows.
// Slots: SG, XOR (rows.wgsl). Overrides: WG; MODE (0 softmax, 1 log_softmax, 2 logsumexp).
// softmax and log_softmax need one reduced dim (p.g.outer == 1); logsumexp takes any.
//#include "rows.wgsl"

struct Params { g: Rows }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

override MODE: u32 = 0u;

// Running max m and s = sum(exp(v - m)) of the elements seen; (-inf, 0) when none is finite.
struct Ms { m: f32, s: f32 }

fn neg_inf() -> f32 {
  var bits = 0xff800000u;  // a var, so no const-evaluation rejects the infinity
  return bitcast<f32>(bits);
}

// Symmetric in a and b (max, then a commutative sum), so every butterfly lane gets the same Ms.
fn merge(a: Ms, b: Ms) -> Ms {
  if (a.m == b.m && a.m == neg_inf()) { return Ms(a.m, 0.0); }
  let m = max(a.m, b.m);
  return Ms(m, a.s * exp(a.m - m) + b.s * exp(b.m - m));
}

fn scan(base: u32, start: u32, step: u32) -> Ms {
  var a = Ms(neg_inf(), 0.0);
  for (var c = cursor_at(base, start); c.q < p.g.outer; c = cursor_next(c, base, step)) {
    a = merge(a, Ms(x[cursor_x(c)], 1.0));
  }
  return a;
}

// Writes the row's results: its elements start, start + step, ... (softmax, log_softmax), or the
// one logsumexp value from the lane with start 0.
fn finish(a: Ms, o: vec2<u32>, start: u32, step: u32) {
  if (MODE == 2u) {
    if (start == 0u) { out[o.y] = a.m + log(a.s); }
    return;
  }
  let log_s = log(a.s);
  for (var j = start; j < p.g.inner; j += step) {
    let d = x[o.x + j * p.g.inner_sx] - a.m;
    var y: f32;
    if (MODE == 1u) { y = d - log_s; } else { y = exp(d) / a.s; }
    out[o.y + j * p.g.inner_so] = y;
  }
}

@compute @workgroup_size(WG)
fn softmax_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let row = linear_wg(wid, nwg) * WG + lid;
  if (row >= p.g.rows) { return; }
  let o = row_offsets(row);
  finish(scan(o.x, 0u, 1u), o, 0u, 1u);
}

@compute @workgroup_size(WG)
fn softmax_row(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let row = linear_wg(wid, nwg);
  if (row >= p.g.rows) { return; }  // uniform: the same row for the whole workgroup
  let o = row_offsets(row);
  var a = scan(o.x, lid, WG);
  for (var m = 1u; m < WG; m <<= 1u) {
    let b = lane_xor(vec2<u32>(bitcast<u32>(a.m), bitcast<u32>(a.s)), m, lid);
    a = merge(a, Ms(bitcast<f32>(b.x), bitcast<f32>(b.y)));
  }
  finish(a, o, lid, WG);
}
