#!/usr/bin/env python3
"""PyTorch CPU side of bench/conv2d.mjs: F.conv2d forward, and forward + both backwards (dx, dw).

    /usr/bin/python3 bench/torch_conv2d.py                      # every shape at batch 32
    /usr/bin/python3 bench/torch_conv2d.py --shapes layer1 --batch 32,128 --runs 5
    /usr/bin/python3 bench/torch_conv2d.py --spec '[{"name": "layer1", "N": 32, "C": 64, "O": 64,
        "H": 32, "W": 32, "k": 3, "s": 1, "p": 1}]'             # as bench/conv2d.mjs calls it

float32, NCHW / OIHW, no bias, torch.set_num_threads(--threads, default 2). Inputs x, w and the
upstream gradient g are uniform in [-1, 1) (torch.manual_seed(0)). Per shape: WARMUPS untimed runs of
each measurement, the quiet gate (bench/waitquiet.sh, skipped with --quiet-timeout 0), then --runs
timed runs of each; the figure is the median.
  fwd      with torch.no_grad(): y = F.conv2d(x, w, None, s, p)
  fwd_bwd  y = F.conv2d(x, w, None, s, p) with x and w requiring grad, then
           dx, dw = torch.autograd.grad(y, (x, w), g)
PyTorch on the CPU is synchronous, so a run ends with its results in memory. After the timed runs,
the float32 y, dx and dw are compared with the same computation in float64 (max abs difference).
Prints one JSON object on stdout (progress goes to stderr). Without torch it prints
{"error": "..."} and exits with 3.
"""
import os
import sys

THREADS_DEFAULT = 2


def _threads_from_argv():
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return str(THREADS_DEFAULT)


# The BLAS / OpenMP pools read these at import: set them before torch loads.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = _threads_from_argv()

import argparse
import json
import platform
import statistics
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WARMUPS = 2
MIN_RUNS = 5

# ResNet-18, CIFAR variant (3x3 stride-1 stem, no max-pool), 32x32 input: the distinct conv shapes.
# Kept in step with SHAPES in bench/conv2d.mjs (which passes its own list with --spec).
SHAPES = [
    dict(name="stem", C=3, O=64, H=32, k=3, s=1, p=1),
    dict(name="layer1", C=64, O=64, H=32, k=3, s=1, p=1),
    dict(name="layer2.s2", C=64, O=128, H=32, k=3, s=2, p=1),
    dict(name="layer2", C=128, O=128, H=16, k=3, s=1, p=1),
    dict(name="layer2.down", C=64, O=128, H=32, k=1, s=2, p=0),
    dict(name="layer3.s2", C=128, O=256, H=16, k=3, s=2, p=1),
    dict(name="layer3", C=256, O=256, H=8, k=3, s=1, p=1),
    dict(name="layer4.s2", C=256, O=512, H=8, k=3, s=2, p=1),
    dict(name="layer4", C=512, O=512, H=4, k=3, s=1, p=1),
]


def quiet_gate(timeout):
    """bench/waitquiet.sh's line (UTC time, idle share, loadavg) and whether the machine got quiet."""
    if timeout <= 0:
        return None, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) + " quiet-gate skipped (--quiet-timeout 0)"
    r = subprocess.run(["bash", os.path.join(HERE, "waitquiet.sh"), str(timeout)], capture_output=True, text=True)
    text = (r.stdout or r.stderr or "").strip().splitlines()
    return r.returncode == 0, (text[-1] if text else f"waitquiet.sh exited {r.returncode}")


def max_abs_diff(a, b):
    return float((a.double() - b.double()).abs().max())


def bench_shape(torch, F, sh, runs, quiet_timeout):
    N, C, O, H, W, k, s, p = (sh[key] for key in ("N", "C", "O", "H", "W", "k", "s", "p"))
    Ho, Wo = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    torch.manual_seed(0)
    x = torch.rand(N, C, H, W) * 2 - 1
    w = torch.rand(O, C, k, k) * 2 - 1
    g = torch.rand(N, O, Ho, Wo) * 2 - 1
    xg = x.clone().requires_grad_(True)
    wg = w.clone().requires_grad_(True)

    def fwd():
        with torch.no_grad():
            return F.conv2d(x, w, None, s, p)

    def fwd_bwd():
        y = F.conv2d(xg, wg, None, s, p)
        return torch.autograd.grad(y, (xg, wg), g)

    for _ in range(WARMUPS):
        fwd()
        fwd_bwd()
    quiet, line = quiet_gate(quiet_timeout)
    print(f"  torch   {line}{'  [WARNING: timing on a busy machine]' if quiet is False else ''}", file=sys.stderr, flush=True)
    rec = {"name": sh["name"], "N": N, "quiet": line}
    out = {}
    for key, fn in (("fwd", fwd), ("fwd_bwd", fwd_bwd)):
        fn()  # the first run after the gate's idle seconds is often slow
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            out[key] = fn()
            times.append((time.perf_counter() - t0) * 1e3)
        rec[key] = {"times_ms": times, "median_ms": statistics.median(times)}
    # float64 check of the last timed results (untimed, after the timing).
    x64, w64, g64 = x.double().requires_grad_(True), w.double().requires_grad_(True), g.double()
    y64 = F.conv2d(x64, w64, None, s, p)
    dx64, dw64 = torch.autograd.grad(y64, (x64, w64), g64)
    rec["f64_err"] = {"y": max_abs_diff(out["fwd"], y64), "dx": max_abs_diff(out["fwd_bwd"][0], dx64),
                      "dw": max_abs_diff(out["fwd_bwd"][1], dw64)}
    print(f"  torch   {sh['name']} N{N}: fwd {rec['fwd']['median_ms']:.2f} ms, fwd+bwd {rec['fwd_bwd']['median_ms']:.2f} ms "
          f"(vs f64: y {rec['f64_err']['y']:.1e}, dx {rec['f64_err']['dx']:.1e}, dw {rec['f64_err']['dw']:.1e})",
          file=sys.stderr, flush=True)
    return rec


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spec", help="JSON list of {name, N, C, O, H, W, k, s, p} (overrides --shapes / --batch)")
    ap.add_argument("--shapes", default=",".join(s["name"] for s in SHAPES), help="comma list of shape names")
    ap.add_argument("--batch", default="32", help="comma list of batch sizes")
    ap.add_argument("--runs", type=int, default=MIN_RUNS, help=f"timed runs per measurement (>= {MIN_RUNS})")
    ap.add_argument("--threads", type=int, default=THREADS_DEFAULT)
    ap.add_argument("--quiet-timeout", type=float, default=60, help="seconds for bench/waitquiet.sh per shape (0 = no gate)")
    args = ap.parse_args()
    if args.runs < MIN_RUNS:
        ap.error(f"--runs must be >= {MIN_RUNS}")
    if args.spec:
        spec = json.loads(args.spec)
        for sh in spec:
            sh.setdefault("W", sh["H"])
    else:
        by_name = {s["name"]: s for s in SHAPES}
        names = [n.strip() for n in args.shapes.split(",") if n.strip()]
        bad = [n for n in names if n not in by_name]
        if bad:
            ap.error(f"unknown shape(s) {', '.join(bad)}; known: {', '.join(by_name)}")
        spec = [dict(by_name[n], W=by_name[n]["H"], N=int(b)) for b in args.batch.split(",") if b.strip() for n in names]

    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:  # noqa: BLE001 (any import failure means: no torch side)
        print(json.dumps({"error": f"torch not importable by {sys.executable}: {type(e).__name__}: {e}"}))
        sys.exit(3)
    torch.set_num_threads(args.threads)
    info = {
        "torch": torch.__version__, "python": platform.python_version(), "executable": sys.executable,
        "threads": torch.get_num_threads(), "mkldnn": torch.backends.mkldnn.is_available(),
        "warmups": WARMUPS, "runs": args.runs,
    }
    print(f"  torch   {info['torch']} (Python {info['python']}), {info['threads']} threads", file=sys.stderr, flush=True)
    results = [bench_shape(torch, F, sh, args.runs, args.quiet_timeout) for sh in spec]
    print(json.dumps({**info, "results": results}))


if __name__ == "__main__":
    main()
