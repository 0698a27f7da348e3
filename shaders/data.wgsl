// data.wgsl: a batch of images as the loader uploads it, to normalised f32 (src/kernels/data.ts).
//   data_u8   x: the batch's bytes packed 4 per u32 word (byte i of the batch is bits
//             8 (i % 4) .. 8 (i % 4) + 7 of word i / 4, little-endian as writeBuffer lays them
//             out); out[i] = f32(byte_i) * scale[c] + bias[c], c = (i / hw) % ch.
//             With scale = 1 / (255 std_c), bias = -mean_c / std_c this is (byte / 255 - mean) / std.
//   data_f32  x: f32 values; out[i] = x[i] * scale[c] + bias[c] (scale = 1 / std, bias = -mean / std).
// Layout: image-major [N, C, H, W] contiguous, i the flat index; p.n = N C H W elements.
// Bindings: 0 x (read) | 1 out (read_write) | 2 p.
// Grid: one invocation per 4 elements (one packed word), ceil(ceil(n / 4) / WG) workgroups, split
//   over x/y (linear_wg). Up to 4 channels (scale and bias are vec4s).
// Overrides: WG. Slots: none.
//#include "common.wgsl"

struct Params {
  n: u32, hw: u32, ch: u32, _pad: u32,
  scale: vec4<f32>,
  bias: vec4<f32>,
}

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

override WG: u32 = 64u;

fn affine(v: f32, i: u32) -> f32 {
  let c = (i / p.hw) % p.ch;
  return v * p.scale[c] + p.bias[c];
}

@compute @workgroup_size(WG)
fn data_u8(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let g = linear_wg(wid, nwg) * WG + lid;
  if (g >= (p.n + 3u) / 4u) { return; }
  let w = x[g];
  for (var l = 0u; l < 4u; l++) {
    let i = 4u * g + l;
    if (i < p.n) { out[i] = affine(f32((w >> (8u * l)) & 0xffu), i); }
  }
}

@compute @workgroup_size(WG)
fn data_f32(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let g = linear_wg(wid, nwg) * WG + lid;
  if (g >= (p.n + 3u) / 4u) { return; }
  for (var l = 0u; l < 4u; l++) {
    let i = 4u * g + l;
    if (i < p.n) { out[i] = affine(bitcast<f32>(x[i]), i); }
  }
}
