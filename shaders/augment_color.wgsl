// augment_color.wgsl: torchvision 0.14's ColorJitter (in each image's own op order) then
// rgb_to_grayscale(num_output_channels = C), per image, fused; post() on write when p.post = 1.
//   x, out: [N, C, H, W], C = 1 or 3 (records and epilogue: augment_common.wgsl).
//   Ops (x in [0, 1]; _blend(a, b, f) = clamp(f a + (1 - f) b, 0, 1)):
//     brightness  _blend(x, 0, f)
//     contrast    _blend(x, m, f), m = mean over the image of gray(x) (C = 3) or of x (C = 1): one
//                 scalar per image of the image as it is when contrast runs, so it sees the ops
//                 before it in the order (pass 1 below recomputes them, pass 2 applies them all)
//     saturation  _blend(x, gray(x), f); identity for C = 1 (torchvision returns the image)
//     hue         RGB -> HSV -> h = (h + f) mod 1 -> RGB as torchvision's _rgb2hsv / _hsv2rgb;
//                 no clamp; identity for C = 1
//     grayscale   gray = 0.2989 R + 0.587 G + 0.114 B copied to every channel, no clamp;
//                 identity for C = 1
// Grid: one workgroup per image, the lanes striding over its pixels; the mean is one lane sum
//   (moments.wgsl all_sum2, subgroup shuffles or a workgroup-memory butterfly). Split over x/y.
// Slots: SG, XOR, V, CH (moments.wgsl; V = f32, CH = 1 here). Overrides: WG.
//#include "moments.wgsl"
//#include "augment_common.wgsl"

const GRAY = vec3<f32>(0.2989, 0.587, 0.114);

fn gray_of(v: vec3<f32>) -> f32 {
  if (p.c == 3u) { return dot(GRAY, v); }
  return v.x;
}

fn blend(a: vec3<f32>, b: vec3<f32>, f: f32) -> vec3<f32> {
  return clamp(f * a + (1.0 - f) * b, vec3<f32>(0.0), vec3<f32>(1.0));
}

// torchvision's adjust_hue on one pixel (_rgb2hsv, the shift, _hsv2rgb).
fn hue(v: vec3<f32>, f: f32) -> vec3<f32> {
  let maxc = max(v.x, max(v.y, v.z));
  let minc = min(v.x, min(v.y, v.z));
  let eqc = maxc == minc;
  let cr = maxc - minc;
  let s = cr / select(maxc, 1.0, eqc);
  let c = (vec3<f32>(maxc) - v) / select(cr, 1.0, eqc);  // (rc, gc, bc)
  var h: f32;
  if (maxc == v.x) {
    h = c.z - c.y;
  } else if (maxc == v.y) {
    h = 2.0 + c.x - c.z;
  } else {
    h = 4.0 + c.y - c.x;
  }
  h = fract(h / 6.0 + 1.0);  // torch.fmod of a positive value
  h = fract(h + f);          // Python's floor mod: in [0, 1) for negative f too
  let h6 = h * 6.0;
  let fi = floor(h6);
  let fr = h6 - fi;
  let i = u32(fi) % 6u;
  let pv = clamp(maxc * (1.0 - s), 0.0, 1.0);
  let q = clamp(maxc * (1.0 - s * fr), 0.0, 1.0);
  let t = clamp(maxc * (1.0 - s * (1.0 - fr)), 0.0, 1.0);
  switch (i) {
    case 0u: { return vec3<f32>(maxc, t, pv); }
    case 1u: { return vec3<f32>(q, maxc, pv); }
    case 2u: { return vec3<f32>(pv, maxc, t); }
    case 3u: { return vec3<f32>(pv, q, maxc); }
    case 4u: { return vec3<f32>(t, pv, maxc); }
    default: { return vec3<f32>(maxc, pv, q); }
  }
}

// Image n's jitter ops in order; `upto_contrast`: stop where contrast would run (pass 1).
fn jitter(v0: vec3<f32>, code: u32, fac: vec4<f32>, mean: f32, upto_contrast: bool) -> vec3<f32> {
  var v = v0;
  for (var k = 0u; k < 4u; k++) {
    let op = (code >> (3u * k)) & 7u;
    if (op == 0u) {
      v = blend(v, vec3<f32>(0.0), fac.x);
    } else if (op == 1u) {
      if (upto_contrast) { break; }
      v = blend(v, vec3<f32>(mean), fac.y);
    } else if (op == 2u && p.c == 3u) {
      v = blend(v, vec3<f32>(dot(GRAY, v)), fac.z);
    } else if (op == 3u && p.c == 3u) {
      v = hue(v, fac.w);
    }
  }
  return v;
}

fn load(base: u32, hw: u32) -> vec3<f32> {
  if (p.c == 3u) { return vec3<f32>(x[base], x[base + hw], x[base + 2u * hw]); }
  return vec3<f32>(x[base], 0.0, 0.0);
}

@compute @workgroup_size(WG)
fn augment_color(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_index) lid: u32) {
  let n = linear_wg(wid, nwg);
  let ok = n < p.n;
  let nn = min(n, p.n - 1u);
  let r1 = rec_of(nn, 1u);
  let fac = rec_of(nn, 2u);
  let code = u32(r1.z);
  let on = r1.y != 0.0;
  var has_contrast = false;
  for (var k = 0u; k < 4u; k++) { has_contrast = has_contrast || ((code >> (3u * k)) & 7u) == 1u; }
  let hw = p.h * p.w;
  let xb = p.off_x + nn * p.c * hw;
  // Pass 1: the contrast mean of the image as contrast sees it.
  let end1 = select(0u, hw, ok && on && has_contrast);
  var s = 0.0;
  for (var i = lid; i < end1; i += WG) { s += gray_of(jitter(load(xb + i, hw), code, fac, 0.0, true)); }
  let mean = all_sum2(vec2<f32>(s, 0.0), lid).x / f32(hw);
  if (!ok) { return; }
  // Pass 2: every op, then grayscale, then the epilogue.
  let ob = n * p.c * hw;
  for (var i = lid; i < hw; i += WG) {
    var v = load(xb + i, hw);
    if (on) { v = jitter(v, code, fac, mean, false); }
    if (r1.w != 0.0 && p.c == 3u) { v = vec3<f32>(dot(GRAY, v)); }
    let y = i / p.w;
    let xx = i % p.w;
    for (var c = 0u; c < p.c; c++) { out[ob + c * hw + i] = post(n, c, y, xx, v[c]); }
  }
}
