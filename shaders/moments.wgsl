// moments.wgsl: what the norm families (batch_norm.wgsl, layer_norm.wgsl) share: vectorised
// loads, per-lane Welford moments, and their combination across the lanes of a workgroup.
// Include it before anything else: it carries `enable subgroups;`.
//   Elements are loaded as V (f32, or vec4<f32> where the launcher proved alignment), so a lane
//   pays one load per V (lavapipe serialises every load per lane; a vec4 costs about as much as
//   an f32). A lane's running summary of V samples (n per component, mean, m2) comes from
//   welford(): no E[x²] - E[x]². The includers feed it x - K, K = the row's first element, so
//   x - K is exact (Sterbenz) and offsets such as mean 1e3 cost no precision. flat() merges
//   the CH component streams into one Moments; combine() merges two summaries (Chan et al.).
//   Butterfly partners combine in lane order, so every lane ends with bit-identical moments.
// Requires: nothing from the includer (uses no uniform).
// Slots: SG = 1 to enable subgroups, else 0; XOR = the lane exchange of (v: vec4<f32>, m, lid):
//   `subgroupShuffleXor(v, m)` (a workgroup is one subgroup) or `xor_wg(v, m, lid)` (workgroup
//   memory, two barriers); V = f32 or vec4<f32>; CH = its component count (1 or 4).
// Overrides: WG (threads per workgroup, a power of two).
//#repeat _ {{SG}}
enable subgroups;
//#end
//#include "common.wgsl"

override WG: u32 = 64u;

alias V = {{V}};
const CH: f32 = {{CH}};

// Sum of V's components: vec4<f32>(v) splats an f32 four times, hence the 0.25 * CH weight.
fn hsum(v: V) -> f32 {
  return dot(vec4<f32>(v), vec4<f32>(0.25 * CH));
}

// V's first component: the shift a row's moments are taken around (see welford).
fn first(v: V) -> f32 {
  return vec4<f32>(v).x;
}

// n samples summarised by their mean and m2 = sum((v - mean)^2).
struct Moments { n: f32, mean: f32, m2: f32 }
// The same per component of V; every component has seen n samples.
struct MomentsV { n: f32, mean: V, m2: V }

fn welford(a: MomentsV, v: V) -> MomentsV {
  let n = a.n + 1.0;
  let d = v - a.mean;
  let mean = a.mean + d / n;
  return MomentsV(n, mean, a.m2 + d * (v - mean));
}

// The CH streams of n samples each, as one summary of n * CH samples.
fn flat(a: MomentsV) -> Moments {
  let mean = hsum(a.mean) / CH;
  let d = a.mean - V(mean);
  return Moments(a.n * CH, mean, hsum(a.m2) + a.n * hsum(d * d));
}

// a's samples then b's (the order fixes the rounding, not the value).
fn combine(a: Moments, b: Moments) -> Moments {
  let n = a.n + b.n;
  if (n == 0.0) { return a; }
  let d = b.mean - a.mean;
  let f = b.n / n;
  return Moments(n, a.mean + d * f, a.m2 + b.m2 + d * d * a.n * f);
}

var<workgroup> xbuf: array<vec4<f32>, WG>;

// Lane (lid ^ m)'s v through workgroup memory. Call from uniform control flow.
fn xor_wg(v: vec4<f32>, m: u32, lid: u32) -> vec4<f32> {
  xbuf[lid] = v;
  workgroupBarrier();
  let r = xbuf[lid ^ m];
  workgroupBarrier();
  return r;
}

fn lane_xor(v: vec4<f32>, m: u32, lid: u32) -> vec4<f32> {
  return {{XOR}};
}

// Every lane's moments combined, in every lane. Call from uniform control flow.
fn all_moments(a: Moments, lid: u32) -> Moments {
  var r = a;
  for (var m = 1u; m < WG; m <<= 1u) {
    let o = lane_xor(vec4<f32>(r.n, r.mean, r.m2, 0.0), m, lid);
    let b = Moments(o.x, o.y, o.z);
    if ((lid & m) == 0u) { r = combine(r, b); } else { r = combine(b, r); }
  }
  return r;
}

// Every lane's v summed (exactly commutative, so every lane gets the same sums). Uniform control flow.
fn all_sum2(v: vec2<f32>, lid: u32) -> vec2<f32> {
  var r = v;
  for (var m = 1u; m < WG; m <<= 1u) {
    r += lane_xor(vec4<f32>(r, 0.0, 0.0), m, lid).xy;
  }
  return r;
}

// Which row (channel) this invocation works on, and its lanes. ROW = 1: one workgroup per row, the
// lanes stride over it (start lid, step WG); ROW = 0: one invocation per row, serial. Rows past
// the end are not skipped by a return (the butterfly needs uniform control flow): `ok` is false.
struct Lane { row: u32, ok: bool, start: u32, step: u32, lead: bool }

fn lane_of(wid: vec3<u32>, nwg: vec3<u32>, lid: u32, rows: u32, row_mode: bool) -> Lane {
  let w = linear_wg(wid, nwg);
  if (row_mode) { return Lane(w, w < rows, lid, WG, lid == 0u); }
  let r = w * WG + lid;
  return Lane(r, r < rows, 0u, 1u, true);
}
