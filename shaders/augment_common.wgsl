// augment_common.wgsl: what the augmentation kernels (augment.wgsl, augment_color.wgsl) share:
// the uniform Params, the bindings, the per-image parameter records and the "post" epilogue
// (solarize -> normalize -> erase) that the last kernel of a pipeline applies as it writes.
// Include-only (needs nothing from the includer).
//   x: [N, C, H, W] f32 at element offset p.off_x, contiguous; out: [N, C, OH, OW] contiguous.
//   rec: [N, 5] vec4<f32>, one record per image (integers stored exactly as f32):
//     rec[5n+0] = crop box (top, left, height, width) in the input
//     rec[5n+1] = (hflip 0/1, colour jitter 0/1, op order code, grayscale 0/1)
//                 order code = o0 + 8 o1 + 64 o2 + 512 o3, o_k in 0..3 = brightness, contrast,
//                 saturation, hue applied k-th; 7 = no op in that place
//     rec[5n+2] = (brightness, contrast, saturation, hue) factors
//     rec[5n+3] = (blur sigma (0: no blur), solarize 0/1, erase value, 0)
//     rec[5n+4] = erase box (top, left, height, width) in the output (height 0: no erase)
// Bindings: 0 x, 1 rec | 2 out | 3 p.

struct Params {
  n: u32, c: u32, h: u32, w: u32,               // input dims
  oh: u32, ow: u32, off_x: u32, post: u32,      // output dims; post = 1: apply post() on write
  ksize: u32, norm: u32, threshold: f32, _p0: u32,  // blur kernel size; normalize 0/1; solarize threshold
  mean: vec4<f32>,                              // normalize mean per channel (C <= 3)
  sd: vec4<f32>,                                // normalize std per channel
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> rec: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

fn rec_of(n: u32, k: u32) -> vec4<f32> {
  return rec[5u * n + k];
}

// torchvision's order after the geometric and colour ops: solarize (x >= t -> 1 - x; pixels equal
// to t are inverted), normalize ((x - mean) / std, a true division), then erase (the box set to
// the value, on the normalised image as RandomErasing after Normalize).
fn post(n: u32, c: u32, y: u32, xx: u32, v: f32) -> f32 {
  if (p.post == 0u) { return v; }
  let r3 = rec_of(n, 3u);
  var o = v;
  if (r3.y != 0.0 && o >= p.threshold) { o = 1.0 - o; }
  if (p.norm != 0u) { o = (o - p.mean[c]) / p.sd[c]; }
  let e = vec4<u32>(rec_of(n, 4u));
  if (y >= e.x && y < e.x + e.z && xx >= e.y && xx < e.y + e.w) { o = r3.z; }
  return o;
}
