// optim.wgsl: fused optimizer updates over flat parameter buffers, the EMA (momentum-encoder)
//   update, and the global gradient norm used by gradient clipping.
//   An optimizer group keeps its parameters, its gathered gradients and each state slot in one
//   flat f32 buffer each, all at offset 0. The segment table `seg` describes the parameters in
//   them for this step, SEG = 8 u32 per parameter, sorted by start (the first starts at 0):
//     [start, len, flags, 0, c0, c1, 0, 0]
//   flags: ACTIVE (the parameter has a gradient this step; others are left untouched, as PyTorch
//   skips parameters whose grad is None), FIRST (SGD: its momentum buffer starts as the gradient),
//   EXCLUDED (LARS: no trust-ratio adaptation and no weight decay). c0, c1: f32 bits, AdamW's
//   step size lr / (1 - beta1^t) and sqrt(1 - beta2^t) for the parameter's own step count t.
// Bindings, shared by every entry point (the launcher leaves out those an entry does not use):
//   0 a (read f32) | 1 seg (read u32) | 2 w, 3 s1, 4 s2 (read_write f32) | 5 p (uniform Params)
// Entry points and grids (1-D grids split over x/y above 65,535 workgroups; linear_wg):
//   optim_sgd    a grad, w params, s1 momentum buffer. One invocation per element: ceil(n / WG).
//   optim_adamw  a grad, w params, s1 exp_avg, s2 exp_avg_sq. ceil(n / WG).
//   optim_lars   a grad, w params, s1 momentum buffer. One workgroup per segment: its norms
//                ||w||, ||g + wd w|| by a workgroup reduction, then its update. Grid nseg.
//   optim_ema    w[off_b + i] = m w[off_b + i] + (1 - m) a[off_a + i], i < n. ceil(n / WG).
//   optim_sumsq  w[base + k] = sum of a[off_a + i]^2 over chunk k of CHUNK = 4 WG elements.
//                ceil(n / CHUNK).
//   optim_norm   a holds n partial sums: w[0] = sqrt(sum), w[1] = min(1, max_norm / (w[0] + 1e-6))
//                (PyTorch's clip coefficient). One workgroup.
//   optim_scale  w[off_b + i] *= a[1] (the clip coefficient), i < n. ceil(n / WG).
// Overrides: WG (threads per workgroup, a power of two). Slots: none.
//#include "common.wgsl"

struct Params {
  n: u32, nseg: u32, off_a: u32, off_b: u32,    // elements (optim_norm: partials); segments; offsets of a and w
  lr: f32, momentum: f32, dampening: f32, wd: f32,
  beta1: f32, beta2: f32, eps: f32, eta: f32,   // AdamW betas and eps; LARS trust coefficient
  nesterov: u32, base: u32, max_norm: f32, mix: f32,  // base: first partial of optim_sumsq; mix = 1 - m (EMA)
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> seg: array<u32>;
@group(0) @binding(2) var<storage, read_write> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> s1: array<f32>;
@group(0) @binding(4) var<storage, read_write> s2: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

override WG: u32 = 256u;
var<workgroup> red: array<vec2<f32>, WG>;

const SEG = 8u;
const ACTIVE = 1u;
const FIRST = 2u;
const EXCLUDED = 4u;
const PER_THREAD = 4u;

// Sum of v over the workgroup (a tree in workgroup memory). Call from uniform control flow.
fn block_sum2(v: vec2<f32>, lid: u32) -> vec2<f32> {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

// Table row of the segment holding flat element i: the last segment whose start is <= i.
fn seg_of(i: u32) -> u32 {
  var lo = 0u;
  var hi = p.nseg;
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (seg[mid * SEG] <= i) { lo = mid; } else { hi = mid; }
  }
  return lo * SEG;
}

// torch.optim.SGD: d = g + wd w; buf = d on the first step, else momentum buf + (1 - dampening) d;
// d = d + momentum buf (nesterov) or buf; w -= lr d. momentum 0 keeps no buffer.
@compute @workgroup_size(WG)
fn optim_sgd(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  let flags = seg[seg_of(i) + 2u];
  if ((flags & ACTIVE) == 0u) { return; }
  let x = w[i];
  var d = a[i] + p.wd * x;
  if (p.momentum != 0.0) {
    var b = d;
    if ((flags & FIRST) == 0u) { b = p.momentum * s1[i] + (1.0 - p.dampening) * d; }
    s1[i] = b;
    d = select(b, d + p.momentum * b, p.nesterov != 0u);
  }
  w[i] = x - p.lr * d;
}

// torch.optim.AdamW: w *= 1 - lr wd (decoupled decay); m = b1 m + (1 - b1) g;
// v = b2 v + (1 - b2) g^2; w -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps), bc_k = 1 - b_k^t.
@compute @workgroup_size(WG)
fn optim_adamw(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  let s = seg_of(i);
  if ((seg[s + 2u] & ACTIVE) == 0u) { return; }
  let step_size = bitcast<f32>(seg[s + 4u]);
  let bc2_sqrt = bitcast<f32>(seg[s + 5u]);
  let g = a[i];
  let m = p.beta1 * s1[i] + (1.0 - p.beta1) * g;
  let v = p.beta2 * s2[i] + (1.0 - p.beta2) * g * g;
  s1[i] = m;
  s2[i] = v;
  w[i] = w[i] * (1.0 - p.lr * p.wd) - step_size * m / (sqrt(v) / bc2_sqrt + p.eps);
}

// LARS as SimCLR's and BYOL's code apply it (classic momentum with the learning rate inside the
// buffer). Included parameters: d = g + wd w, trust = eta ||w|| / ||d|| (1 when either norm is 0);
// excluded ones: d = g, trust = 1. v = momentum v + lr trust d; w -= v, or with nesterov
// w -= momentum v + lr trust d.
@compute @workgroup_size(WG)
fn optim_lars(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let k = linear_wg(wid, nwg);
  if (k >= p.nseg) { return; }
  let s = k * SEG;
  let flags = seg[s + 2u];
  if ((flags & ACTIVE) == 0u) { return; }
  let start = seg[s];
  let len = seg[s + 1u];
  let excluded = (flags & EXCLUDED) != 0u;
  let wd = select(p.wd, 0.0, excluded);
  var acc = vec2<f32>(0.0);
  for (var j = lid; j < len; j += WG) {
    let x = w[start + j];
    let d = a[start + j] + wd * x;
    acc += vec2<f32>(x * x, d * d);
  }
  let sq = block_sum2(acc, lid);
  var trust = 1.0;
  if (!excluded && sq.x > 0.0 && sq.y > 0.0) { trust = p.eta * sqrt(sq.x) / sqrt(sq.y); }
  let scaled = p.lr * trust;
  for (var j = lid; j < len; j += WG) {
    let i = start + j;
    let x = w[i];
    let d = a[i] + wd * x;
    let v = p.momentum * s1[i] + scaled * d;
    s1[i] = v;
    w[i] = x - select(v, p.momentum * v + scaled * d, p.nesterov != 0u);
  }
}

// target = m target + (1 - m) online, over n elements at offsets off_b (target) and off_a (online).
@compute @workgroup_size(WG)
fn optim_ema(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  let j = p.off_b + i;
  w[j] = p.momentum * w[j] + p.mix * a[p.off_a + i];
}

// Partial sums of squares, one per chunk of PER_THREAD * WG elements (coalesced: lane-strided).
@compute @workgroup_size(WG)
fn optim_sumsq(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let k = linear_wg(wid, nwg);
  let begin = k * WG * PER_THREAD;
  if (begin >= p.n) { return; }
  var acc = 0.0;
  for (var r = 0u; r < PER_THREAD; r++) {
    let i = begin + r * WG + lid;
    if (i < p.n) {
      let x = a[p.off_a + i];
      acc += x * x;
    }
  }
  let t = block_sum2(vec2<f32>(acc, 0.0), lid);
  if (lid == 0u) { w[p.base + k] = t.x; }
}

// The global norm from the partials, and the clip coefficient (1 when max_norm is +inf).
@compute @workgroup_size(WG)
fn optim_norm(@builtin(local_invocation_index) lid: u32) {
  var acc = 0.0;
  for (var i = lid; i < p.n; i += WG) { acc += a[i]; }
  let t = block_sum2(vec2<f32>(acc, 0.0), lid);
  if (lid == 0u) {
    let nrm = sqrt(t.x);
    w[0] = nrm;
    w[1] = min(1.0, p.max_norm / (nrm + 1e-6));
  }
}

// In-place scaling by the clip coefficient a[1].
@compute @workgroup_size(WG)
fn optim_scale(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * WG + lid;
  if (i >= p.n) { return; }
  let j = p.off_b + i;
  w[j] = w[j] * a[1];
}
