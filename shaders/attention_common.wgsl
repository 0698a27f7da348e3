// attention_common.wgsl: what the three fused-attention kernels share (included by
// attention_fwd.wgsl, attention_bwd_q.wgsl and attention_bwd_kv.wgsl).
//
// Layout: every operand is [B, H, T, hd] addressed through (offset, sB, sH, sT) with hd contiguous;
// in the vec4 mode (VEC = 1) those four are in vec4 units and hd % 4 == 0, in the scalar mode
// (SCL = 1) they are in elements and a vec4 chunk past hd reads as 0. The mask is an f32 tensor
// broadcast to [B, H, Tq, Tk] (element strides m = (offset, sB, sH, sI) and msj along keys).
// Scores are s = scale * q.k + mask; a masked score (causal j > i, key j >= Tk, query i >= Tq) is
// NEG, so exp(NEG - m) = 0 once a row has a real score. A row with no real score stores o = 0 and
// lse = BIG, so its backward terms exp(s - lse) are 0 too.
// stats: [2][B*H][Tq]: the forward writes lse = max + log(sum exp), the dQ kernel writes
//   D = rowsum(dO * O) behind it for the dK/dV kernel.

const NEG: f32 = -3.0e38;
const BIG: f32 = 3.0e38;

struct Attn {
  Tq: u32, Tk: u32, hd: u32, H: u32,
  BH: u32, tiles: u32, scale: f32, causal: u32,
  has_mask: u32, msj: u32, pad0: u32, pad1: u32,
  q: vec4<u32>, k: vec4<u32>, v: vec4<u32>, o: vec4<u32>,
  go: vec4<u32>, gq: vec4<u32>, gk: vec4<u32>, gv: vec4<u32>,
  m: vec4<u32>,
}

// Broadcasts of the mode without subgroups (one invocation per lane group): the value itself.
fn pick(v: vec4<f32>, j: u32) -> vec4<f32> { return v; }
fn pickf(v: f32, j: u32) -> f32 { return v; }

// Base offset of (b, h) in an operand described by (offset, sB, sH, sT).
fn base_of(d: vec4<u32>, b: u32, h: u32) -> u32 {
  return d.x + b * d.y + h * d.z;
}

// The score of query i and key j after masking.
fn masked(s: f32, i: u32, j: u32, b: u32, h: u32) -> f32 {
  if (j >= p.Tk || i >= p.Tq) { return NEG; }
  if (p.causal != 0u && j > i) { return NEG; }
  if (p.has_mask != 0u) { return s + mb[p.m.x + b * p.m.y + h * p.m.z + i * p.m.w + j * p.msj]; }
  return s;
}

// Number of valid elements in vec4 chunk c of a row (scalar mode).
fn chunk_len(c: u32) -> u32 {
  return p.hd - min(4u * c, p.hd);
}
