// common.wgsl: helpers shared by the kernel families (included with //#include "common.wgsl").
// Index math over packed shape/stride arrays, and scalar math WGSL lacks (erf, a tanh that does
// not overflow, pow with negative bases).

const MAX_RANK: u32 = 8u;

// i-th entry of an array<vec4<u32>, 2> holding up to 8 dims.
fn at8(v: array<vec4<u32>, 2>, i: u32) -> u32 {
  return v[i / 4u][i % 4u];
}

// Linear workgroup index of a grid split over x and y (see dispatch.ts splitGrid).
fn linear_wg(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return wid.x + wid.y * nwg.x;
}

// tanh without the inf/inf of exp(2x) for large |x|.
fn tanh_s(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}

fn sigmoid_s(x: f32) -> f32 {
  // exp of a non-positive argument only: no overflow.
  let e = exp(-abs(x));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

// erf through the Chebyshev-fitted erfc of Numerical Recipes (fractional error < 1.2e-7 everywhere):
// erfc(z) = t*exp(-z^2 + P(t)), t = 1/(1 + z/2), z = |x|.
fn erf_s(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
          t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
          t * (-0.82215223 + t * 0.17087277)))))))));
  return sign(x) * (1.0 - r);
}

// x^y as PyTorch computes it: negative bases with integral exponents, 0^0 = 1.
fn pow_s(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  let r = pow(abs(x), y);
  if (x >= 0.0) { return r; }
  var nan_bits = 0x7fc00000u;  // a var, so no const-evaluation rejects the NaN
  if (y != floor(y)) { return bitcast<f32>(nan_bits); }
  let odd = (abs(y) % 2.0) == 1.0;
  return select(r, -r, odd);
}

// d/dx of the tanh-approximated GELU 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3).
fn gelu_tanh_grad(x: f32) -> f32 {
  let u = 0.79788456080286536 * (x + 0.044715 * x * x * x);
  let t = tanh_s(u);
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * 0.79788456080286536 * (1.0 + 3.0 * 0.044715 * x * x);
}
