// batch_norm.wgsl: BatchNorm over every dim but the channel dim, fused forward and backward.
//   x is read in place as [N, C, S] (S: the spatial dims merged into one, 1 for [N, C]) with
//   strides (sn, sc, ss) and offset, all in units of V (moments.wgsl); dy has its own strides.
//   y and dx are new contiguous [N, C, S]. M = N * S elements per channel.
//   stats: [C, 4] = (k, m, rstd, 0) that normalised x, saved for the backward: mean = k + m, with
//   k the channel's first element in training (0 in eval), so x - mean is taken as (x - k) - m,
//   exact for large offsets (x - k is, by Sterbenz) in the forward and the backward alike.
//   Training: mean and biased variance of the batch; with running stats (the _track entry), also
//     r_mean = (1 - f) r_mean + f mean, r_var = (1 - f) r_var + f var * M / (M - 1) (unbiased),
//     f = momentum, or 1 / num_batches_tracked when p.cumulative (batch_norm_count ran first and
//     already counted this batch; otherwise channel 0 adds the 1 here). PyTorch's semantics.
//   Eval: the running stats normalise (y = (x - r_mean) rstd γ + β, rstd = 1 / sqrt(r_var + eps)).
//   Backward, per channel with x̂ = ((x - k) - m) rstd, sums over the M elements:
//     dβ = Σ dy,  dγ = Σ dy x̂,  dx = γ rstd (dy - TRAIN (dβ + x̂ dγ) / M).
// Bindings: 0 x, 1 dy, 2 gamma, 3 beta, 4 saved (stats of the forward) | 5 out (y or dx),
//   6 stats, 7 run_mean, 8 run_var, 9 nbt (i32), 10 dgamma, 11 dbeta | 12 p. Per entry:
//   batch_norm_train       x gamma beta | out stats                                (grid below)
//   batch_norm_train_track x gamma beta | out stats run_mean run_var nbt
//   batch_norm_eval        x gamma beta | out stats run_mean run_var (read only)
//   batch_norm_bwd         x dy gamma saved | out dgamma dbeta
//   batch_norm_count       nbt (+= 1); grid 1.
// Grid: ROW = 1: one workgroup per channel, lanes stride over M and meet in a butterfly (slot XOR);
//   grid C. ROW = 0: one invocation per channel; grid ceil(C / WG). Split over x/y (linear_wg).
// Slots: SG, XOR, V, CH (moments.wgsl). Overrides: WG, ROW, TRAIN (bwd: 1 batch stats, 0 eval).
// gamma is read only when p.affine & 1, beta only when p.affine & 2 (else a dummy is bound).
//#include "moments.wgsl"

struct Params {
  n: u32, c: u32, s: u32, m: u32,               // m = N * S elements per channel (not V units)
  sn: u32, sc: u32, ss: u32, off_x: u32,         // x strides and offset, in V units
  dn: u32, dc: u32, ds: u32, off_dy: u32,        // dy's
  off_g: u32, off_b: u32, off_rm: u32, off_rv: u32,
  off_nbt: u32, affine: u32, cumulative: u32, _p0: u32,
  eps: f32, momentum: f32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<V>;
@group(0) @binding(1) var<storage, read> dy: array<V>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read> saved: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> out: array<V>;
@group(0) @binding(6) var<storage, read_write> stats: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> run_mean: array<f32>;
@group(0) @binding(8) var<storage, read_write> run_var: array<f32>;
@group(0) @binding(9) var<storage, read_write> nbt: array<i32>;
@group(0) @binding(10) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(11) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(12) var<uniform> p: Params;

override ROW: u32 = 1u;
override TRAIN: u32 = 1u;

// A position (n, s) in a channel, stepped by a fixed element count without dividing.
struct It { n: u32, s: u32 }

struct Walk { at: It, dn: u32, ds: u32, end: u32 }

// The elements start, start + step, ... of a channel; none when the lane has no channel.
fn walk(l: Lane) -> Walk {
  return Walk(It(l.start / p.s, l.start % p.s), l.step / p.s, l.step % p.s, select(0u, p.n, l.ok));
}

fn next(w: Walk) -> Walk {
  var r = w;
  r.at = It(w.at.n + w.dn, w.at.s + w.ds);
  if (r.at.s >= p.s) { r.at = It(r.at.n + 1u, r.at.s - p.s); }
  return r;
}

fn ix(c: u32, i: It) -> u32 { return p.off_x + i.n * p.sn + c * p.sc + i.s * p.ss; }
fn idy(c: u32, i: It) -> u32 { return p.off_dy + i.n * p.dn + c * p.dc + i.s * p.ds; }
fn iout(c: u32, i: It) -> u32 { return (i.n * p.c + c) * p.s + i.s; }

// γ and β of channel c: 1 and 0 where the launcher gave none (p.affine bit 0: γ, bit 1: β).
fn weight_of(c: u32) -> f32 {
  if ((p.affine & 1u) == 0u) { return 1.0; }
  return gamma[p.off_g + c];
}

fn bias_of(c: u32) -> f32 {
  if ((p.affine & 2u) == 0u) { return 0.0; }
  return beta[p.off_b + c];
}

// y = ((x - k) - m) rstd γ + β over the lane's elements (mean = k + m; k = 0 in eval, the channel's
// first element in training, so the subtractions stay exact for large offsets); stats[c] = (k, m, rstd, 0).
fn normalise(l: Lane, k: f32, m: f32, rstd: f32) {
  if (!l.ok) { return; }
  let scale = rstd * weight_of(l.row);
  let shift = bias_of(l.row);
  for (var w = walk(l); w.at.n < w.end; w = next(w)) {
    out[iout(l.row, w.at)] = (x[ix(l.row, w.at)] - k - m) * scale + shift;
  }
  if (l.lead) { stats[l.row] = vec4<f32>(k, m, rstd, 0.0); }
}

// The channel's first element, and the batch moments of x minus it, in every lane of the channel.
struct Shifted { k: f32, mo: Moments }

fn batch_moments(l: Lane, lid: u32) -> Shifted {
  var k = 0.0;
  if (l.ok) { k = first(x[ix(l.row, It(0u, 0u))]); }
  var a = MomentsV(0.0, V(0.0), V(0.0));
  for (var w = walk(l); w.at.n < w.end; w = next(w)) { a = welford(a, x[ix(l.row, w.at)] - k); }
  var mo = flat(a);
  if (ROW == 1u) { mo = all_moments(mo, lid); }
  return Shifted(k, mo);
}

@compute @workgroup_size(WG)
fn batch_norm_train(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let l = lane_of(wid, nwg, lid, p.c, ROW == 1u);
  let b = batch_moments(l, lid);
  normalise(l, b.k, b.mo.mean, inverseSqrt(b.mo.m2 / b.mo.n + p.eps));
}

@compute @workgroup_size(WG)
fn batch_norm_train_track(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                          @builtin(local_invocation_index) lid: u32) {
  let l = lane_of(wid, nwg, lid, p.c, ROW == 1u);
  let b = batch_moments(l, lid);
  let mo = b.mo;
  normalise(l, b.k, mo.mean, inverseSqrt(mo.m2 / mo.n + p.eps));
  if (!l.ok || !l.lead) { return; }
  var f = p.momentum;
  if (p.cumulative != 0u) {
    f = 1.0 / f32(nbt[p.off_nbt]);
  } else if (l.row == 0u) {
    nbt[p.off_nbt] += 1;  // no other invocation reads the counter in this mode
  }
  let c = l.row;
  run_mean[p.off_rm + c] = (1.0 - f) * run_mean[p.off_rm + c] + f * (b.k + mo.mean);
  run_var[p.off_rv + c] = (1.0 - f) * run_var[p.off_rv + c] + f * mo.m2 / (mo.n - 1.0);
}

@compute @workgroup_size(WG)
fn batch_norm_eval(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                   @builtin(local_invocation_index) lid: u32) {
  let l = lane_of(wid, nwg, lid, p.c, ROW == 1u);
  if (!l.ok) { return; }
  let c = l.row;
  normalise(l, 0.0, run_mean[p.off_rm + c], inverseSqrt(run_var[p.off_rv + c] + p.eps));
}

@compute @workgroup_size(WG)
fn batch_norm_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let l = lane_of(wid, nwg, lid, p.c, ROW == 1u);
  let c = l.row;
  var st = vec4<f32>(0.0);
  if (l.ok) { st = saved[c]; }
  let rstd = st.z;
  // Pass 1: Σ dy and Σ dy x̂ over the lane's elements, then over the workgroup.
  var s_dy = V(0.0);
  var s_dyx = V(0.0);
  for (var w = walk(l); w.at.n < w.end; w = next(w)) {
    let g = dy[idy(c, w.at)];
    s_dy += g;
    s_dyx += g * (x[ix(c, w.at)] - st.x - st.y);
  }
  var s = vec2<f32>(hsum(s_dy), hsum(s_dyx) * rstd);
  if (ROW == 1u) { s = all_sum2(s, lid); }
  if (!l.ok) { return; }
  if (l.lead) {
    dgamma[c] = s.y;
    dbeta[c] = s.x;
  }
  // Pass 2: dx = γ rstd (dy - (Σdy + x̂ Σdy x̂) / M) in training, γ rstd dy in eval.
  let gr = weight_of(c) * rstd;
  let t = f32(TRAIN) / f32(p.m);
  let mdy = s.x * t;
  let mdx = s.y * t * rstd;  // x̂ Σdy x̂ / M = ((x - k) - m) rstd Σdy x̂ / M
  for (var w = walk(l); w.at.n < w.end; w = next(w)) {
    out[iout(c, w.at)] = gr * (dy[idy(c, w.at)] - mdy - (x[ix(c, w.at)] - st.x - st.y) * mdx);
  }
}

@compute @workgroup_size(1)
fn batch_norm_count() {
  nbt[p.off_nbt] += 1;
}
