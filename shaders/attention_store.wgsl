// attention_store.wgsl (include-only): an output of the attention kernels and its store, included
//   with arguments NAME (buffer NAME`b`, store st_NAME) and BINDING. st_NAME(o, c, x) writes the
//   c-th chunk of 4 head-dim elements of the row at element offset o: one vec4 store in vec4 mode
//   (VEC), up to four scalar stores in scalar mode (SCL, nothing past hd).
//#repeat _ {{VEC}}
@group(0) @binding({{BINDING}}) var<storage, read_write> {{NAME}}b: array<vec4<f32>>;
fn st_{{NAME}}(o: u32, c: u32, x: vec4<f32>) { {{NAME}}b[o + c] = x; }
//#end
//#repeat _ {{SCL}}
@group(0) @binding({{BINDING}}) var<storage, read_write> {{NAME}}b: array<f32>;
fn st_{{NAME}}(o: u32, c: u32, x: vec4<f32>) {
  let e = o + 4u * c; let n = chunk_len(c);
  if (n > 0u) { {{NAME}}b[e] = x.x; }
  if (n > 1u) { {{NAME}}b[e + 1u] = x.y; }
  if (n > 2u) { {{NAME}}b[e + 2u] = x.z; }
  if (n > 3u) { {{NAME}}b[e + 3u] = x.w; }
}
//#end
