// augment.wgsl: the geometric and blur augmentation kernels over a batch, one parameter record
// per image (augment_common.wgsl: layouts, records, bindings, the post() epilogue).
//   augment_crop    out[n, c, oy, ox] = bilinear sample of image n's crop box (torchvision 0.14
//                   resized_crop, antialias off, align_corners False), mirrored along W when the
//                   image's hflip flag is set: per axis src = max((dst + 0.5) * (in / out) - 0.5, 0),
//                   i0 = floor(src), i1 = min(i0 + 1, in - 1), lambda = src - i0, with `in` the box
//                   size, so neighbours are clamped to the box and nothing outside it is read.
//                   A full box at the same size is an exact copy (src = dst, lambda = 0).
//   augment_blur_h  the horizontal half of torchvision's gaussian_blur (k = p.ksize, odd): weights
//   augment_blur_v  w_j = exp(-0.5 ((j - (k-1)/2) / sigma)^2) / sum, reflect padding (index -1 -> 1,
//                   W -> W - 2: the edge is not repeated), so the separable passes equal the 2-D
//                   depthwise convolution with outer(w, w) of the padded image. Images whose sigma
//                   is 0 are copied. _h: x -> out, _v: x -> out along H (x is _h's output).
//   Every entry applies post() when p.post = 1 (the pipeline's last kernel).
// Grids: crop: one invocation per output pixel (all C channels), ceil(N OH OW / WG) workgroups;
//   blur: one invocation per element, ceil(N C H W / WG); split over x/y (linear_wg).
// Overrides: WG. Slots: none.
//#include "common.wgsl"
//#include "augment_common.wgsl"

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn augment_crop(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * WG + lid;
  let opix = p.oh * p.ow;
  if (i >= p.n * opix) { return; }
  let n = i / opix;
  let oy = (i % opix) / p.ow;
  let ox = i % p.ow;
  let box = vec4<u32>(rec_of(n, 0u));
  let flip = rec_of(n, 1u).x != 0.0;
  let sx = select(ox, p.ow - 1u - ox, flip);  // flip after the resize: out[ox] = resized[OW-1-ox]
  let fy = max((f32(oy) + 0.5) * (f32(box.z) / f32(p.oh)) - 0.5, 0.0);
  let fx = max((f32(sx) + 0.5) * (f32(box.w) / f32(p.ow)) - 0.5, 0.0);
  let y0 = u32(fy);
  let x0 = u32(fx);
  let ly = fy - f32(y0);
  let lx = fx - f32(x0);
  let y1 = min(y0 + 1u, box.z - 1u);
  let x1 = min(x0 + 1u, box.w - 1u);
  let r0 = (box.x + y0) * p.w + box.y;
  let r1 = (box.x + y1) * p.w + box.y;
  for (var c = 0u; c < p.c; c++) {
    let b = p.off_x + (n * p.c + c) * p.h * p.w;
    let top = (1.0 - lx) * x[b + r0 + x0] + lx * x[b + r0 + x1];
    let bot = (1.0 - lx) * x[b + r1 + x0] + lx * x[b + r1 + x1];
    out[((n * p.c + c) * p.oh + oy) * p.ow + ox] = post(n, c, oy, ox, (1.0 - ly) * top + ly * bot);
  }
}

// Reflect index i in [-(len-1), 2 len - 2] into [0, len).
fn mirror(i: i32, len: i32) -> u32 {
  var j = i;
  if (j < 0) { j = -j; }
  if (j >= len) { j = 2 * len - 2 - j; }
  return u32(j);
}

// One 1-D Gaussian pass at element i along an axis with `stride` and length `len` (pos: index on it).
fn blur_at(i: u32, n: u32, pos: u32, len: u32, stride: u32) -> f32 {
  let sigma = rec_of(n, 3u).x;
  if (sigma <= 0.0) { return x[p.off_x + i]; }
  let half = i32(p.ksize / 2u);
  let base = p.off_x + i - pos * stride;
  var acc = 0.0;
  var norm = 0.0;
  for (var j = -half; j <= half; j++) {
    let t = f32(j) / sigma;
    let wj = exp(-0.5 * t * t);
    acc += wj * x[base + mirror(i32(pos) + j, i32(len)) * stride];
    norm += wj;
  }
  return acc / norm;
}

@compute @workgroup_size(WG)
fn augment_blur_h(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * WG + lid;
  let hw = p.h * p.w;
  if (i >= p.n * p.c * hw) { return; }
  let n = i / (p.c * hw);
  let xx = i % p.w;
  let y = (i % hw) / p.w;
  out[i] = post(n, (i / hw) % p.c, y, xx, blur_at(i, n, xx, p.w, 1u));
}

@compute @workgroup_size(WG)
fn augment_blur_v(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                  @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * WG + lid;
  let hw = p.h * p.w;
  if (i >= p.n * p.c * hw) { return; }
  let n = i / (p.c * hw);
  let xx = i % p.w;
  let y = (i % hw) / p.w;
  out[i] = post(n, (i / hw) % p.c, y, xx, blur_at(i, n, y, p.h, p.w));
}
