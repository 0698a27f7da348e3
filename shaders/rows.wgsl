// rows.wgsl: row geometry and lane exchange shared by the row-wise families (reduce.wgsl,
// softmax.wgsl). Include it before anything else: it carries `enable subgroups;`, which must
// precede every declaration.
//   A row is what one output element reduces: the reduced axes, logically moved to the end. The
//   launcher (src/kernels/rows.ts) merges dims where strides allow and drops size-1 dims, leaving
//     kept dims     oshape, strides osx in x and oso in out (row r -> row_offsets(r))
//     reduced dims  rshape (outer, up to 8) + one inner dim of length `inner`, stride inner_sx in x
//                   and inner_so in out (softmax writes along it; 0 for reductions).
//   Element k of a row (row-major over the reduced dims in their original order) is
//   x[base + outer_off(k / inner) + (k % inner) * inner_sx]; `k` is what argmax returns.
// Requires: the including file declares `var<uniform> p: Params` whose first field is `g: Rows`.
// Slots: SG = 1 to enable subgroups, else 0 (a //#repeat of count 0 or 1 is the conditional);
//   XOR = the lane exchange expression of (v, m, lid): `subgroupShuffleXor(v, m)` (WG must not
//   exceed the subgroup size, so a workgroup is one subgroup) or `xor_wg(v, m, lid)` (workgroup
//   memory, two barriers).
// Overrides: WG (threads per workgroup, a power of two).
//#repeat _ {{SG}}
enable subgroups;
//#end
//#include "common.wgsl"

override WG: u32 = 64u;

struct Rows {
  rows: u32, len: u32, outer: u32, inner: u32,    // outer = len / inner = rows of the outer dims
  inner_sx: u32, inner_so: u32, orank: u32, rrank: u32,
  off_x: u32, off_o: u32, _p0: u32, _p1: u32,
  oshape: array<vec4<u32>, 2>,
  osx: array<vec4<u32>, 2>,
  oso: array<vec4<u32>, 2>,
  rshape: array<vec4<u32>, 2>,
  rsx: array<vec4<u32>, 2>,
}

// Offsets of row `row`'s first element in x (.x) and out (.y).
fn row_offsets(row: u32) -> vec2<u32> {
  var rem = row;
  var o = vec2<u32>(p.g.off_x, p.g.off_o);
  for (var d = i32(p.g.orank) - 1; d >= 0; d--) {
    let u = u32(d);
    let n = at8(p.g.oshape, u);
    let c = rem % n;
    rem = rem / n;
    o += c * vec2<u32>(at8(p.g.osx, u), at8(p.g.oso, u));
  }
  return o;
}

// Offset in x of index q over the outer reduced dims.
fn outer_off(q: u32) -> u32 {
  var rem = q;
  var o = 0u;
  for (var d = i32(p.g.rrank) - 1; d >= 0; d--) {
    let u = u32(d);
    let n = at8(p.g.rshape, u);
    o += (rem % n) * at8(p.g.rsx, u);
    rem = rem / n;
  }
  return o;
}

// A position in a row: outer index q, inner index j, and ob = base + outer_off(q). Stepping
// adds to j and divides only when j leaves the inner dim, so a walk over a row with one reduced
// dim (the common case) does no division at all.
struct Cursor { q: u32, j: u32, ob: u32 }

fn cursor_at(base: u32, k: u32) -> Cursor {
  let q = k / p.g.inner;
  return Cursor(q, k % p.g.inner, base + outer_off(q));
}

fn cursor_next(c: Cursor, base: u32, step: u32) -> Cursor {
  var n = c;
  n.j += step;
  if (n.j >= p.g.inner) {
    n.q += n.j / p.g.inner;
    n.j = n.j % p.g.inner;
    n.ob = base + outer_off(n.q);
  }
  return n;
}

fn cursor_x(c: Cursor) -> u32 { return c.ob + c.j * p.g.inner_sx; }
fn cursor_k(c: Cursor) -> u32 { return c.q * p.g.inner + c.j; }

var<workgroup> xbuf: array<vec2<u32>, WG>;

// Lane exchange through workgroup memory: returns lane (lid ^ m)'s v. Call from uniform control flow.
fn xor_wg(v: vec2<u32>, m: u32, lid: u32) -> vec2<u32> {
  xbuf[lid] = v;
  workgroupBarrier();
  let r = xbuf[lid ^ m];
  workgroupBarrier();
  return r;
}

// Lane (lid ^ m)'s v, through subgroups or workgroup memory (slot XOR). Butterfly steps
// m = 1, 2, ..., WG/2 leave every lane with the combination of all lanes.
fn lane_xor(v: vec2<u32>, m: u32, lid: u32) -> vec2<u32> {
  return {{XOR}};
}
