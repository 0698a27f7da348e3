// contrastive.wgsl: the portable (GPU-strategy) kernels of the fused contrastive losses.
//
// rows_fwd / rows_bwd: the fused row-wise cross-entropy over S = scale * A B^T of
//   contrastive_simd.wgsl (same math, same per-row arrays, same overrides DIAG, POS_INDEX, EXTRA,
//   OWN_TERM, OTHER_TERM), for adapters without subgroups or with the GPU strategy. One
//   workgroup per own row: rows_fwd's lanes stride over the other rows with a per-lane online
//   max / sum merged in a workgroup-memory tree; rows_bwd's lanes compute one tile of WG
//   coefficients (one other row each), share them through workgroup memory, then each lane
//   accumulates its features (up to 4 per lane per pass; passes of 4 * WG features) over the
//   tile. Operands are read in place through their element strides (row, batch, feature), so
//   nothing is packed or transposed. rows_bwd writes d(own) [batch, own_rows, D] contiguous.
//   Bindings: rows_fwd 0 xs 1 ys 2 extra 3 posidx | 4 lse_out 5 loss_out | 6 p;
//             rows_bwd 0 xs 1 ys 2 lse_in 3 g_in 4 posidx_b | 5 dx | 6 p.
//   Grid: batch * own_rows workgroups, split over x/y (linear_wg). WG a power of two.
// Overrides: WG and the flags above. (The memory-bank and queue kernels are in memory_bank.wgsl.)
//#include "common.wgsl"

struct Geo {
  own_rows: u32, other_rows: u32, D: u32, batch: u32,
  xrs: u32, xbs: u32, xoff: u32, xks: u32,
  yrs: u32, ybs: u32, yoff: u32, yks: u32,
  M: u32, nb: u32, shift: u32, scale: f32,
}

@group(0) @binding(0) var<storage, read> xs: array<f32>;
@group(0) @binding(1) var<storage, read> ys: array<f32>;
@group(0) @binding(2) var<storage, read> extra: array<f32>;
@group(0) @binding(3) var<storage, read> posidx: array<i32>;
@group(0) @binding(4) var<storage, read_write> lse_out: array<f32>;
@group(0) @binding(5) var<storage, read_write> loss_out: array<f32>;
@group(0) @binding(6) var<uniform> p: Geo;

@group(0) @binding(2) var<storage, read> lse_in: array<f32>;
@group(0) @binding(3) var<storage, read> g_in: array<f32>;
@group(0) @binding(4) var<storage, read> posidx_b: array<i32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

override WG: u32 = 64u;
override DIAG: u32 = 0u;
override POS_INDEX: u32 = 0u;
override EXTRA: u32 = 0u;
override OWN_TERM: u32 = 1u;
override OTHER_TERM: u32 = 0u;

const LOW: f32 = -3.0e38;
const NONE: u32 = 0xffffffffu;

fn pos_fwd(aux: u32, i: u32) -> u32 {
  if (EXTRA != 0u) { return NONE; }
  if (POS_INDEX != 0u) { return u32(posidx[aux + i]); }
  return (i + p.shift) % p.nb;
}

fn pos_bwd(aux: u32, i: u32) -> u32 {
  if (EXTRA != 0u) { return NONE; }
  if (POS_INDEX != 0u) { return u32(posidx_b[aux + i]); }
  return (i + p.shift) % p.nb;
}

// scale * x_row . y_row (element offsets of the rows' first features).
fn logit(xo: u32, yo: u32) -> f32 {
  var s = 0.0;
  for (var k = 0u; k < p.D; k++) { s += xs[xo + k * p.xks] * ys[yo + k * p.yks]; }
  return s * p.scale;
}

// Workgroup memory of the row entries: the (max, sum, positive) tree of rows_fwd, and one tile of
// coefficients in rows_bwd.
var<workgroup> red_m: array<f32, WG>;
var<workgroup> red_l: array<f32, WG>;
var<workgroup> red_p: array<f32, WG>;
var<workgroup> coef: array<f32, WG>;

@compute @workgroup_size(WG)
fn rows_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let t = linear_wg(wid, nwg);
  if (t >= p.batch * p.own_rows) { return; }  // uniform: one own row per workgroup
  let bi = t / p.own_rows;
  let x = t % p.own_rows;
  let aux = bi * p.M;
  let xo = p.xoff + bi * p.xbs + x * p.xrs;
  let pos = pos_fwd(aux, x);
  var m = LOW;
  var l = 0.0;
  var sp = 0.0;
  for (var y = lid; y < p.other_rows; y += WG) {
    if (DIAG != 0u && y == x) { continue; }
    let s = logit(xo, p.yoff + bi * p.ybs + y * p.yrs);
    if (y == pos) { sp = s; }
    let mn = max(m, s);
    l = l * exp(m - mn) + exp(s - mn);
    m = mn;
  }
  red_m[lid] = m;
  red_l[lid] = l;
  red_p[lid] = sp;
  workgroupBarrier();
  for (var st = WG / 2u; st > 0u; st >>= 1u) {
    if (lid < st) {
      let m1 = red_m[lid];
      let m2 = red_m[lid + st];
      let mn = max(m1, m2);
      red_l[lid] = red_l[lid] * exp(m1 - mn) + red_l[lid + st] * exp(m2 - mn);
      red_m[lid] = mn;
      red_p[lid] += red_p[lid + st];
    }
    workgroupBarrier();
  }
  if (lid != 0u) { return; }
  m = red_m[0];
  l = red_l[0];
  sp = red_p[0];
  if (EXTRA != 0u) {
    let se = p.scale * extra[aux + x];
    let mn = max(m, se);
    l = l * exp(m - mn) + exp(se - mn);
    m = mn;
    sp = se;
  }
  let lse = m + log(l);
  lse_out[aux + x] = lse;
  loss_out[aux + x] = lse - sp;
}

@compute @workgroup_size(WG)
fn rows_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let t = linear_wg(wid, nwg);
  if (t >= p.batch * p.own_rows) { return; }  // uniform: one own row per workgroup
  let bi = t / p.own_rows;
  let x = t % p.own_rows;
  let aux = bi * p.M;
  let xo = p.xoff + bi * p.xbs + x * p.xrs;
  let oy = p.yoff + bi * p.ybs;
  let out = t * p.D;
  var gx = 0.0;
  var lx = 0.0;
  var px = NONE;
  if (OWN_TERM != 0u) {
    gx = g_in[aux + x];
    lx = lse_in[aux + x];
    px = pos_bwd(aux, x);
  }
  // Lane lid accumulates features kc + lid + WG * i (i < 4) over every other row.
  for (var kc = 0u; kc < p.D; kc += 4u * WG) {
    var acc = vec4<f32>(0.0);
    for (var y0 = 0u; y0 < p.other_rows; y0 += WG) {
      let y = y0 + lid;
      var c = 0.0;
      if (y < p.other_rows && !(DIAG != 0u && y == x)) {
        let s = logit(xo, oy + y * p.yrs);
        if (OWN_TERM != 0u) { c += gx * (exp(s - lx) - select(0.0, 1.0, y == px)); }
        if (OTHER_TERM != 0u) {
          c += g_in[aux + y] * (exp(s - lse_in[aux + y]) - select(0.0, 1.0, x == pos_bwd(aux, y)));
        }
      }
      coef[lid] = c * p.scale;
      workgroupBarrier();
      let n = min(WG, p.other_rows - y0);
      for (var j = 0u; j < n; j++) {
        let cj = coef[j];
        let yo = oy + (y0 + j) * p.yrs;
        for (var i = 0u; i < 4u; i++) {
          let k = kc + lid + i * WG;
          if (k < p.D) { acc[i] += cj * ys[yo + k * p.yks]; }
        }
      }
      workgroupBarrier();  // the next tile overwrites coef
    }
    for (var i = 0u; i < 4u; i++) {
      let k = kc + lid + i * WG;
      if (k < p.D) { dx[out + k] = acc[i]; }
    }
  }
}
