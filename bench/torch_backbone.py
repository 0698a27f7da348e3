#!/usr/bin/env python3
"""PyTorch CPU side of bench/backbone.mjs: ResNet-18, small-image variant (or, with --model vit-tiny, ViT-tiny
patch 4 on 32x32 from bench/torch_vit.py), forward and forward + backward.

    /usr/bin/python3 bench/torch_backbone.py --batch 64,128 --runs 5         # standalone (random weights)
    /usr/bin/python3 bench/torch_backbone.py --case case.safetensors --out out.safetensors ...
                                                                              # as bench/backbone.mjs calls it

The model is torchvision.models.resnet18() with the small-image stem of ../shared/peers/torch_cpu_bench.py
(conv1 3x3 stride 1 pad 1, maxpool = Identity, fc = Identity: a 512-d pooled feature), float32 NCHW,
training mode (batch-statistics BN), torch.set_num_threads(--threads, default 2). With --case, the
state_dict, the input `x` [N, 3, 32, 32] and the upstream gradient `g` [N, 512] come from that
safetensors file (webgrad's weights, so every side computes the same thing) and the last run's
features and conv1 weight gradient are written to --out for bench/backbone.mjs to compare. Per batch:
WARMUPS untimed runs of each measurement, the quiet gate (bench/waitquiet.sh; --quiet-timeout 0 skips
it), then --runs timed runs of each; the figure is the median, as images/s.
  fwd      with torch.no_grad(): y = model(x)
  fwd_bwd  y = model(x); y.backward(g)      (parameter gradients, as in a training step)
Prints one JSON object on stdout (progress to stderr); without torch it prints {"error": ...} and exits 3.
"""
import os
import sys


def _threads_from_argv():
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "2"


# The BLAS / OpenMP pools read these at import: set them before torch loads.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = _threads_from_argv()

import argparse
import json
import struct
import subprocess
import statistics
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WARMUPS = 2
MIN_RUNS = 5

try:
    import torch
    import torch.nn as nn
    import torchvision
except Exception as e:  # noqa: BLE001 - any import failure means: no torch here
    print(json.dumps({"error": f"torch / torchvision not importable: {e}"}))
    sys.exit(3)

sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
from torch_export import write_safetensors  # noqa: E402  (the stdlib-only writer)

NP_DTYPES = {"F32": torch.float32, "I32": torch.int32, "I64": torch.int64}


def read_safetensors(path):
    """{name: tensor} of a safetensors file (F32, I32, I64), standard library + torch only."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    out = {}
    for name, h in header.items():
        b, e = h["data_offsets"]
        buf = bytearray(raw[8 + n + b:8 + n + e])
        t = torch.frombuffer(buf, dtype=NP_DTYPES[h["dtype"]]) if e > b else torch.empty(0, dtype=NP_DTYPES[h["dtype"]])
        out[name] = t.reshape(h["shape"]).clone()
    return out


def resnet18_small(in_ch=3):
    """ResNet-18 with the small-image stem (as ../shared/peers/torch_cpu_bench.py)."""
    m = torchvision.models.resnet18()
    m.conv1 = nn.Conv2d(in_ch, 64, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(m.conv1.weight, mode="fan_out", nonlinearity="relu")
    m.maxpool = nn.Identity()
    m.fc = nn.Identity()
    return m


def quiet(timeout):
    if timeout <= 0:
        return "quiet-gate skipped (--quiet-timeout 0)"
    r = subprocess.run(["bash", os.path.join(HERE, "waitquiet.sh"), str(timeout)], capture_output=True, text=True)
    return (r.stdout or r.stderr).strip().split("\n")[-1]


def blas_library():
    """The BLAS library this process has loaded (Linux, /proc/self/maps), resolved through symlinks.

    torch's Linear layers call it: Debian's reference libblas3 (``.../blas/libblas.so.3``) runs at a
    few GFLOP/s, OpenBLAS (``apt install libopenblas0-pthread``) at the CPU's peak.
    """
    torch.ones(8, 8) @ torch.ones(8, 8)  # make sure the BLAS is loaded
    try:
        with open("/proc/self/maps") as f:
            libs = {os.path.realpath(line.split()[-1]) for line in f if "blas" in os.path.basename(line.split()[-1]).lower()}
    except OSError:
        return "unknown"
    return ", ".join(sorted(libs)) or "none loaded (torch's own kernels)"


def timed(fn, runs):
    fn()  # one untimed run right after the gate
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", default="64,128", help="comma list of batch sizes (standalone mode)")
    ap.add_argument("--case", help="safetensors with the state_dict, x and g (one batch)")
    ap.add_argument("--out", help="with --case: write the last run's features and grad.conv1.weight here")
    ap.add_argument("--reference", action="store_true",
                    help="with --case and --out: one forward + backward in float64 (no timing); writes its features and gradient")
    ap.add_argument("--runs", type=int, default=MIN_RUNS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quiet-timeout", type=float, default=60)
    ap.add_argument("--model", default="resnet18", choices=["resnet18", "vit-tiny"],
                    help="resnet18: small-image ResNet-18 (512-d); vit-tiny: ViT-tiny patch 4 on 32x32, depth 12, 3 heads (192-d)")
    args = ap.parse_args()
    if args.runs < MIN_RUNS:
        ap.error(f"--runs must be >= {MIN_RUNS}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.model == "vit-tiny":
        from torch_vit import ViT  # bench/torch_vit.py: timm's layout and names, no timm needed
        model = ViT(img=32, patch=4, dim=192, depth=12, heads=3).train()
        feat_dim, first = 192, lambda: model.patch_embed.proj.weight.grad
    else:
        model = resnet18_small().train()
        feat_dim, first = 512, lambda: model.conv1.weight.grad
    if args.reference and not (args.case and args.out):
        ap.error("--reference needs --case and --out")
    if args.case:
        st = read_safetensors(args.case)
        x, g = st.pop("x"), st.pop("g")
        model.load_state_dict(st, strict=True)
        cases = [(x.shape[0], x, g)]
    else:
        cases = []
        for n in [int(b) for b in args.batch.split(",") if b.strip()]:
            cases.append((n, torch.rand(n, 3, 32, 32) * 2 - 1, torch.rand(n, feat_dim) * 2 - 1))
    if args.reference:
        # The float64 reference every side is checked against: same state, input and upstream gradient.
        model.double()
        y = model(x.double())
        y.backward(g.double())
        write_safetensors(args.out, {"features": y.detach().float(), "grad.first": first().float()})
        print(json.dumps({"torch": torch.__version__, "reference": "float64", "N": x.shape[0]}))
        return
    results = []
    for n, x, g in cases:
        last = {}

        def fwd():
            with torch.no_grad():
                last["features"] = model(x)

        def fwd_bwd():
            model.zero_grad(set_to_none=True)
            y = model(x)
            y.backward(g)
            last["grad"] = first()

        for _ in range(WARMUPS):
            fwd()
            fwd_bwd()
        gate = quiet(args.quiet_timeout)
        print(f"  torch   N{n}: {gate}", file=sys.stderr)
        rec = {"N": n, "quiet": gate}
        for key, fn in (("fwd", fwd), ("fwd_bwd", fwd_bwd)):
            times = timed(fn, args.runs)
            med = statistics.median(times)
            rec[key] = {"times_ms": [t * 1e3 for t in times], "median_ms": med * 1e3, "images_per_s": n / med}
        print(f"  torch   N{n}: fwd {rec['fwd']['images_per_s']:.1f} img/s, fwd+bwd {rec['fwd_bwd']['images_per_s']:.1f} img/s",
              file=sys.stderr)
        results.append(rec)
        if args.out:
            write_safetensors(args.out, {"features": last["features"], "grad.first": last["grad"]})
    print(json.dumps({"torch": torch.__version__, "torchvision": torchvision.__version__, "threads": args.threads,
                      "blas": blas_library(), "results": results}))


if __name__ == "__main__":
    main()
