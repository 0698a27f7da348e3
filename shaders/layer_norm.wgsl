// layer_norm.wgsl: LayerNorm over the last dims (flattened to one of length D), fused forward
// and backward.
//   x, dy: [rows, D] with contiguous rows (row r at off + r * d), y, dx: new [rows, D]
//   contiguous; gamma, beta: [D]. Indices and d = D / CH are in units of V (moments.wgsl).
//   stats: [rows, 4] = (k, m, rstd, 0), saved for the backward: mean = k + m with k the row's
//   first element, so x - mean is taken as (x - k) - m, exact for large offsets (x - k is, by
//   Sterbenz). Biased variance, as PyTorch.
//   Backward, per row with x̂ = ((x - k) - m) rstd and g = dy γ:
//     dx = rstd (g - mean(g) - x̂ mean(g x̂));  per column: dγ = Σ_rows dy x̂,  dβ = Σ_rows dy.
// Bindings: 0 x, 1 dy, 2 gamma, 3 beta, 4 saved (stats of the forward) | 5 out (y or dx),
//   6 stats, 7 dgamma, 8 dbeta | 9 p. Per entry:
//   layer_norm_fwd         x gamma beta | out stats
//   layer_norm_bwd         x dy gamma saved | out
//   layer_norm_bwd_params  x dy saved | dgamma dbeta: [chunks, D] partial sums, one chunk of
//                          p.chunk rows each (the launcher sums the chunks when there are several)
// Grids: fwd and bwd: ROW = 1: one workgroup per row, lanes stride over it and meet in a
//   butterfly (slot XOR); grid rows. ROW = 0: one invocation per row; grid ceil(rows / WG). Both
//   split over x/y (linear_wg). bwd_params: [ceil(d / WG), chunks, 1], an invocation per column
//   of V and chunk.
// Slots: SG, XOR, V, CH (moments.wgsl). Overrides: WG, ROW.
// gamma is read only when p.has_w, beta only when p.has_b (else the launcher binds a dummy).
//#include "moments.wgsl"

struct Params {
  rows: u32, d: u32, len: u32, chunk: u32,     // len = D elements; chunk = rows per bwd_params chunk
  off_x: u32, off_dy: u32, off_g: u32, off_b: u32,
  has_w: u32, has_b: u32, eps: f32, _p0: u32,
}

@group(0) @binding(0) var<storage, read> x: array<V>;
@group(0) @binding(1) var<storage, read> dy: array<V>;
@group(0) @binding(2) var<storage, read> gamma: array<V>;
@group(0) @binding(3) var<storage, read> beta: array<V>;
@group(0) @binding(4) var<storage, read> saved: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> out: array<V>;
@group(0) @binding(6) var<storage, read_write> stats: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dgamma: array<V>;
@group(0) @binding(8) var<storage, read_write> dbeta: array<V>;
@group(0) @binding(9) var<uniform> p: Params;

override ROW: u32 = 1u;

fn weight(j: u32) -> V {
  if (p.has_w == 0u) { return V(1.0); }
  return gamma[p.off_g + j];
}

fn bias(j: u32) -> V {
  if (p.has_b == 0u) { return V(0.0); }
  return beta[p.off_b + j];
}

// The lane's last element + 1: none when the lane has no row.
fn end_of(l: Lane) -> u32 { return select(0u, p.d, l.ok); }

@compute @workgroup_size(WG)
fn layer_norm_fwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let l = lane_of(wid, nwg, lid, p.rows, ROW == 1u);
  let bx = p.off_x + l.row * p.d;
  // Moments of x - k, k = the row's first element: x - k is exact, so large offsets lose nothing.
  var k = 0.0;
  if (l.ok) { k = first(x[bx]); }
  var a = MomentsV(0.0, V(0.0), V(0.0));
  for (var j = l.start; j < end_of(l); j += l.step) { a = welford(a, x[bx + j] - k); }
  var mo = flat(a);
  if (ROW == 1u) { mo = all_moments(mo, lid); }
  if (!l.ok) { return; }
  let rstd = inverseSqrt(mo.m2 / mo.n + p.eps);
  let by = l.row * p.d;
  for (var j = l.start; j < p.d; j += l.step) {
    out[by + j] = (x[bx + j] - k - mo.mean) * rstd * weight(j) + bias(j);
  }
  if (l.lead) { stats[l.row] = vec4<f32>(k, mo.mean, rstd, 0.0); }
}

@compute @workgroup_size(WG)
fn layer_norm_bwd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let l = lane_of(wid, nwg, lid, p.rows, ROW == 1u);
  var st = vec4<f32>(0.0);
  if (l.ok) { st = saved[l.row]; }
  let rstd = st.z;
  let bx = p.off_x + l.row * p.d;
  let bd = p.off_dy + l.row * p.d;
  // Pass 1: Σ g and Σ g x̂ over the row.
  var sg = V(0.0);
  var sgx = V(0.0);
  for (var j = l.start; j < end_of(l); j += l.step) {
    let g = dy[bd + j] * weight(j);
    sg += g;
    sgx += g * (x[bx + j] - st.x - st.y);
  }
  var s = vec2<f32>(hsum(sg), hsum(sgx) * rstd);
  if (ROW == 1u) { s = all_sum2(s, lid); }
  if (!l.ok) { return; }
  // Pass 2: dx = rstd (g - Σg / D - x̂ Σg x̂ / D).
  let mg = s.x / f32(p.len);
  let mgx = s.y * rstd / f32(p.len);
  let by = l.row * p.d;
  for (var j = l.start; j < p.d; j += l.step) {
    out[by + j] = rstd * (dy[bd + j] * weight(j) - mg - (x[bx + j] - st.x - st.y) * mgx);
  }
}

@compute @workgroup_size(WG)
fn layer_norm_bwd_params(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  if (j >= p.d) { return; }
  let r0 = gid.y * p.chunk;
  let r1 = min(p.rows, r0 + p.chunk);
  var sg = V(0.0);
  var sb = V(0.0);
  for (var r = r0; r < r1; r++) {
    let st = saved[r];
    let g = dy[p.off_dy + r * p.d + j];
    sg += g * (x[p.off_x + r * p.d + j] - st.x - st.y) * st.z;
    sb += g;
  }
  dgamma[gid.y * p.d + j] = sg;
  dbeta[gid.y * p.d + j] = sb;
}
