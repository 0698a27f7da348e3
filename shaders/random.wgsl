// random.wgsl: counter-based random numbers (Philox4x32-10, Salmon et al. 2011, SC'11; the
//   constants of Random123 and PyTorch) and the distributions derived from its u32 stream.
// Stream: key = (seed low 32 bits, seed high 32 bits). Stream word w (a 64-bit index) is lane
//   w % 4 of philox4x32_10(counter = (b low, b high, 0, 0), key) with b = w / 4. A call with
//   (seed, offset) reads call word i = stream word offset + i, so call word i is a pure function
//   of (seed, offset + i), the same on every adapter (integer ops only).
// Element i of a call (x_i = (word_i >> 8) * 2^-24, in [0, 1) on a 2^-24 grid):
//   random_bits  out[i] = word_i                                    (u32)
//   random_uniform  out[i] = a + b * x_i                            (f32; a = low, b = high - low)
//   random_normal  Box-Muller on the pair k = i / 2: u1 = x_{2k} + 2^-24 in (0, 1], u2 = x_{2k+1},
//     r = sqrt(-2 ln u1), t = 2 pi u2; out[2k] = a + b * r cos t, out[2k+1] = a + b * r sin t
//     (f32; a = mean, b = std). ln, sin and cos are our own polynomials (below), accurate to a few
//     ulp, because WGSL lets builtin sin/cos be off by 2^-11 and log by 2^-21 near 1.
//   random_int  out[i] = low + hi32(word_i * range)                 (i32; range 0 means 2^32)
//   random_bernoulli  out[i] = x_i < a ? 1 : 0                      (f32; a = p)
//   random_perm_init  kv[i] = (word_i, i) for i < n, (0xffffffff, i) for n <= i < p.j (padding)
//   random_perm_sort  one compare-exchange stage (j, k) of a bitonic sort of the kv pairs,
//     ordered by (key, index); p.n = pairs compared = padded length / 2
//   random_perm_out  out[i] = index of kv[i], i < n                    (i32 permutation of 0..n-1)
// Layouts: out is a flat array<u32> (f32/i32 written as bits); kv: [padded, 2] u32 (key, index).
// Bindings: 0 kv (read; random_perm_out only) | 1 out (read_write; also kv for init/sort) | 2 p.
//   The generators leave binding 0 unused (a null input in src/kernels/random.ts).
// Grid: generators: one thread per 4 call words, ceil(n / 4 / WG) workgroups; random_perm_init:
//   one thread per 4 padded entries; random_perm_sort: one per compared pair; random_perm_out: one
//   per element. All split over x/y above 65535 (linear_wg). A randperm with padded length 2^L
//   (L >= 2) is 1 init + L(L+1)/2 sort stages + 1 out dispatches (212 for n = 10^6).
// Overrides: WG (threads per workgroup). Slots: none.
//#include "common.wgsl"

struct Params {
  n: u32, key0: u32, key1: u32, shift: u32,     // shift = offset % 4
  blk_lo: u32, blk_hi: u32, range: u32, low: i32, // (blk_lo, blk_hi) = offset / 4 as 64 bits
  a: f32, b: f32, j: u32, k: u32,              // j: padded length (init) or stage distance (sort)
}

@group(0) @binding(0) var<storage, read> kv_in: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

override WG: u32 = 64u;

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// High 32 bits of the 64-bit product a * b, from 16-bit limbs (WGSL multiplies wrap at 32 bits):
// a * b = a1 b1 2^32 + (a1 b0 + a0 b1) 2^16 + a0 b0; each partial product fits in a u32, and so
// does `mid` (< 3 * 2^16), which carries the low halves of the cross terms into the high word.
fn mulhi32(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu; let a1 = a >> 16u;
  let b0 = b & 0xffffu; let b1 = b >> 16u;
  let p00 = a0 * b0; let p01 = a0 * b1; let p10 = a1 * b0; let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
}

fn philox_round(c: vec4<u32>, k: vec2<u32>) -> vec4<u32> {
  return vec4<u32>(mulhi32(PHILOX_M1, c.z) ^ c.y ^ k.x, PHILOX_M1 * c.z,
                   mulhi32(PHILOX_M0, c.x) ^ c.w ^ k.y, PHILOX_M0 * c.x);
}

// Philox4x32-10: ten rounds, the key bumped by the Weyl constants between rounds.
fn philox4x32_10(ctr: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = ctr;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    if (r > 0u) { k += vec2<u32>(PHILOX_W0, PHILOX_W1); }
    c = philox_round(c, k);
  }
  return c;
}

// The four output words of stream block (offset / 4) + g, a 64-bit counter with carry.
fn block(g: u32) -> vec4<u32> {
  let lo = p.blk_lo + g;
  let hi = p.blk_hi + select(0u, 1u, lo < g);
  return philox4x32_10(vec4<u32>(lo, hi, 0u, 0u), vec2<u32>(p.key0, p.key1));
}

// Call words 4g .. 4g+3. When offset % 4 != 0 they straddle two stream blocks.
fn words4(g: u32) -> vec4<u32> {
  let b0 = block(g);
  if (p.shift == 0u) { return b0; }
  let b1 = block(g + 1u);
  let s = p.shift;
  let all = array<u32, 8>(b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w);
  return vec4<u32>(all[s], all[s + 1u], all[s + 2u], all[s + 3u]);
}

// x = (w >> 8) * 2^-24: exact in f32, in [0, 1).
fn unit(w: u32) -> f32 {
  return f32(w >> 8u) * 5.9604644775390625e-8;
}

// ln x for x > 0 normal: x = m 2^e with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(s),
// s = (m - 1) / (m + 1), |s| < 0.172 (m - 1 is exact); ln 2 split hi + lo so e * hi is exact.
fn ln_s(x: f32) -> f32 {
  let bits = bitcast<u32>(x);
  var e = i32(bits >> 23u) - 127;
  var m = bitcast<f32>((bits & 0x007fffffu) | 0x3f800000u);
  if (m > 1.41421356) { m = m * 0.5; e += 1; }
  let s = (m - 1.0) / (m + 1.0);
  let s2 = s * s;
  let poly = 1.0 + s2 * (0.33333333 + s2 * (0.2 + s2 * (0.14285714 + s2 * (0.11111111 +
             s2 * 0.09090909))));
  let fe = f32(e);
  return fe * 0.693359375 + (fe * -2.12194440e-4 + 2.0 * s * poly);
}

// (cos 2 pi u, sin 2 pi u) for u in [0, 1): exact quadrant reduction t = 4u = q + f, f in
// [-1/2, 1/2], then Taylor polynomials on a = f pi/2 in [-pi/4, pi/4] (truncation < 2e-9).
fn cos_sin_2pi(u: f32) -> vec2<f32> {
  let t = 4.0 * u;
  let q = floor(t + 0.5);
  let a = (t - q) * 1.57079632679;
  let a2 = a * a;
  let s = a * (1.0 + a2 * (-1.66666667e-1 + a2 * (8.33333333e-3 + a2 * (-1.98412698e-4 +
          a2 * 2.75573192e-6))));
  let c = 1.0 + a2 * (-0.5 + a2 * (4.16666667e-2 + a2 * (-1.38888889e-3 + a2 * (2.48015873e-5 +
          a2 * -2.75573192e-7))));
  switch (u32(q) & 3u) {
    case 0u: { return vec2<f32>(c, s); }
    case 1u: { return vec2<f32>(-s, c); }
    case 2u: { return vec2<f32>(-c, -s); }
    default: { return vec2<f32>(s, -c); }
  }
}

// Box-Muller: two standard normals from two words (u1 in (0, 1] so ln u1 is finite).
fn box_muller(w1: u32, w2: u32) -> vec2<f32> {
  let u1 = f32((w1 >> 8u) + 1u) * 5.9604644775390625e-8;
  let r = sqrt(-2.0 * ln_s(u1));
  return r * cos_sin_2pi(unit(w2));
}

fn thread_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
  return linear_wg(wid, nwg) * WG + lid;
}

@compute @workgroup_size(WG)
fn random_bits(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
  let g = thread_id(wid, nwg, lid);
  if (g >= (p.n + 3u) / 4u) { return; }
  let w = words4(g);
  for (var l = 0u; l < 4u; l++) {
    if (4u * g + l < p.n) { out[4u * g + l] = w[l]; }
  }
}

@compute @workgroup_size(WG)
fn random_uniform(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let g = thread_id(wid, nwg, lid);
  if (g >= (p.n + 3u) / 4u) { return; }
  let w = words4(g);
  for (var l = 0u; l < 4u; l++) {
    if (4u * g + l < p.n) { out[4u * g + l] = bitcast<u32>(p.a + p.b * unit(w[l])); }
  }
}

@compute @workgroup_size(WG)
fn random_normal(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let g = thread_id(wid, nwg, lid);
  if (g >= (p.n + 3u) / 4u) { return; }
  let w = words4(g);
  let z = array<vec2<f32>, 2>(box_muller(w.x, w.y), box_muller(w.z, w.w));
  for (var l = 0u; l < 4u; l++) {
    if (4u * g + l < p.n) { out[4u * g + l] = bitcast<u32>(p.a + p.b * z[l / 2u][l % 2u]); }
  }
}

@compute @workgroup_size(WG)
fn random_int(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_index) lid: u32) {
  let g = thread_id(wid, nwg, lid);
  if (g >= (p.n + 3u) / 4u) { return; }
  let w = words4(g);
  for (var l = 0u; l < 4u; l++) {
    // Lemire's multiply-shift without rejection: hi32(w * range) is in [0, range).
    let r = select(mulhi32(w[l], p.range), w[l], p.range == 0u);
    if (4u * g + l < p.n) { out[4u * g + l] = bitcast<u32>(p.low) + r; }
  }
}

@compute @workgroup_size(WG)
fn random_bernoulli(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let g = thread_id(wid, nwg, lid);
  if (g >= (p.n + 3u) / 4u) { return; }
  let w = words4(g);
  for (var l = 0u; l < 4u; l++) {
    if (4u * g + l < p.n) { out[4u * g + l] = bitcast<u32>(select(0.0, 1.0, unit(w[l]) < p.a)); }
  }
}

@compute @workgroup_size(WG)
fn random_perm_init(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let g = thread_id(wid, nwg, lid);
  if (g >= p.j / 4u) { return; }  // p.j (padded length) is a power of two >= 4
  var w = vec4<u32>(0xffffffffu);
  if (4u * g < p.n) { w = words4(g); }
  for (var l = 0u; l < 4u; l++) {
    let i = 4u * g + l;
    out[2u * i] = select(0xffffffffu, w[l], i < p.n);
    out[2u * i + 1u] = i;
  }
}

@compute @workgroup_size(WG)
fn random_perm_sort(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let t = thread_id(wid, nwg, lid);
  if (t >= p.n) { return; }
  // Pair t of stage (j, k): i has bit j clear, partner i + j; blocks of size k alternate direction.
  let i = ((t & ~(p.j - 1u)) << 1u) | (t & (p.j - 1u));
  let l = i + p.j;
  let a = vec2<u32>(out[2u * i], out[2u * i + 1u]);
  let b = vec2<u32>(out[2u * l], out[2u * l + 1u]);
  let a_after_b = a.x > b.x || (a.x == b.x && a.y > b.y);
  if (a_after_b == ((i & p.k) == 0u)) {
    out[2u * i] = b.x; out[2u * i + 1u] = b.y;
    out[2u * l] = a.x; out[2u * l + 1u] = a.y;
  }
}

@compute @workgroup_size(WG)
fn random_perm_out(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = thread_id(wid, nwg, lid);
  if (i >= p.n) { return; }
  out[i] = kv_in[2u * i + 1u];
}
