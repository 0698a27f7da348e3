// attention_load.wgsl (include-only): a read-only operand of the attention kernels and its loader,
//   included once per operand with arguments NAME (the operand: buffer NAME`b`, loader ld_NAME)
//   and BINDING. ld_NAME(o, c) returns the c-th chunk of 4 head-dim elements of the row at element
//   offset o: one vec4 load in vec4 mode (VEC), four guarded scalar loads in scalar mode (SCL,
//   zeros past hd; chunk_len from attention_common.wgsl).
//#repeat _ {{VEC}}
@group(0) @binding({{BINDING}}) var<storage, read> {{NAME}}b: array<vec4<f32>>;
fn ld_{{NAME}}(o: u32, c: u32) -> vec4<f32> { return {{NAME}}b[o + c]; }
//#end
//#repeat _ {{SCL}}
@group(0) @binding({{BINDING}}) var<storage, read> {{NAME}}b: array<f32>;
fn ld_{{NAME}}(o: u32, c: u32) -> vec4<f32> {
  let e = o + 4u * c; let n = chunk_len(c);
  return vec4<f32>(select(0.0, {{NAME}}b[e], n > 0u), select(0.0, {{NAME}}b[e + 1u], n > 1u), select(0.0, {{NAME}}b[e + 2u], n > 2u), select(0.0, {{NAME}}b[e + 3u], n > 3u));
}
//#end
