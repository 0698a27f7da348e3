// attention_fwd.wgsl: fused scaled-dot-product attention forward, o = softmax(scale q k^T + mask) v,
//   streamed over key tiles with an online softmax, so no Tq x Tk matrix is ever stored.
//   An invocation owns R query rows (row = row0 + r * WG + lid) and keeps q (pre-scaled), the
//   running max m, the running sum l and the output accumulator o in registers. Per key tile of
//   SG keys, lane l loads key row (tile + l) of K and of V as vec4s along hd, and the rows reach
//   the other lanes through subgroupBroadcast (the CPU-SIMD layout of matmul_simd.wgsl: loads are
//   the cost there, arithmetic is cheap). Without subgroups (SG = 1, BC = pick) every invocation
//   loads each key row itself (the portable mode, for GPUs and adapters without subgroups).
//   See attention_common.wgsl for layouts, masking and stats.
// Bindings: 0 q 1 k 2 v (read, vec4 or f32) 3 mask (read f32; dummy without one) |
//   4 o (read_write, layout of p.o) 5 stats (read_write f32, lse at [bh * Tq + i]) | 6 p (Attn).
// Grid: B*H*tiles workgroups (tiles = ceil(Tq / (WG * R))), split over x/y (linear_wg).
// Slots: ENABLE ('enable subgroups;' or ''), SG (lanes sharing a key tile), WG (workgroup size),
//   R (rows per invocation), HD4 (ceil(hd / 4)), VEC / SCL (1/0: vec4 or scalar mode),
//   BC (subgroupBroadcast or pick).
{{ENABLE}}
//#include "common.wgsl"
//#include "attention_common.wgsl"

//#include "attention_load.wgsl" NAME=q BINDING=0
//#include "attention_load.wgsl" NAME=k BINDING=1
//#include "attention_load.wgsl" NAME=v BINDING=2
//#include "attention_store.wgsl" NAME=o BINDING=4
@group(0) @binding(3) var<storage, read> mb: array<f32>;
@group(0) @binding(5) var<storage, read_write> st: array<f32>;
@group(0) @binding(6) var<uniform> p: Attn;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let lin = linear_wg(wid, nwg);
  let bh = lin / p.tiles;
  if (bh >= p.BH) { return; }  // uniform across the workgroup
  let b = bh / p.H;
  let h = bh % p.H;
  let lane = lid % {{SG}}u;
  let row0 = (lin % p.tiles) * ({{WG}}u * {{R}}u);
  let qbase = base_of(p.q, b, h);
  let kbase = base_of(p.k, b, h);
  let vbase = base_of(p.v, b, h);

  //#repeat I {{R}}
  let i{{I}} = row0 + {{I}}u * {{WG}}u + lid;
  let qo{{I}} = qbase + min(i{{I}}, p.Tq - 1u) * p.q.w;
  var m{{I}} = NEG;
  var l{{I}} = 0.0;
  //#repeat C {{HD4}}
  let q{{I}}_{{C}} = ld_q(qo{{I}}, {{C}}u) * p.scale;
  var o{{I}}_{{C}} = vec4<f32>(0.0);
  //#end
  //#end

  let ntiles = (p.Tk + {{SG}}u - 1u) / {{SG}}u;
  for (var t = 0u; t < ntiles; t++) {
    let kt = t * {{SG}}u;
    let key = min(kt + lane, p.Tk - 1u);
    //#repeat C {{HD4}}
    let k_{{C}} = ld_k(kbase + key * p.k.w, {{C}}u);
    //#end
    // s_i_j = q_i . k_(kt + j) for the SG keys of the tile.
    //#repeat J {{SG}}
    //#repeat I {{R}}
    var s{{I}}_{{J}} = 0.0;
    //#end
    //#repeat C {{HD4}}
    {
      let kk = {{BC}}(k_{{C}}, {{J}}u);
      //#repeat I {{R}}
      s{{I}}_{{J}} += dot(q{{I}}_{{C}}, kk);
      //#end
    }
    //#end
    //#repeat I {{R}}
    s{{I}}_{{J}} = masked(s{{I}}_{{J}}, i{{I}}, kt + {{J}}u, b, h);
    //#end
    //#end
    // Online softmax: rescale the running sum and output to the new row max.
    //#repeat I {{R}}
    {
      var mx = m{{I}};
      //#repeat J {{SG}}
      mx = max(mx, s{{I}}_{{J}});
      //#end
      let alpha = exp(m{{I}} - mx);
      m{{I}} = mx;
      var ps = 0.0;
      //#repeat J {{SG}}
      s{{I}}_{{J}} = exp(s{{I}}_{{J}} - mx);
      ps += s{{I}}_{{J}};
      //#end
      l{{I}} = l{{I}} * alpha + ps;
      //#repeat C {{HD4}}
      o{{I}}_{{C}} *= alpha;
      //#end
    }
    //#end
    //#repeat C {{HD4}}
    let v_{{C}} = ld_v(vbase + key * p.v.w, {{C}}u);
    //#end
    //#repeat J {{SG}}
    //#repeat C {{HD4}}
    {
      let vv = {{BC}}(v_{{C}}, {{J}}u);
      //#repeat I {{R}}
      o{{I}}_{{C}} += s{{I}}_{{J}} * vv;
      //#end
    }
    //#end
    //#end
  }

  let obase = base_of(p.o, b, h);
  //#repeat I {{R}}
  if (i{{I}} < p.Tq) {
    let dead = m{{I}} <= 0.5 * NEG;
    let inv = select(1.0 / l{{I}}, 0.0, dead);
    let oo = obase + i{{I}} * p.o.w;
    //#repeat C {{HD4}}
    st_o(oo, {{C}}u, o{{I}}_{{C}} * inv);
    //#end
    st[bh * p.Tq + i{{I}}] = select(m{{I}} + log(l{{I}}), BIG, dead);
  }
  //#end
}
