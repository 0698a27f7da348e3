#!/usr/bin/env python3
"""Exports torchvision ResNet-18 and ResNet-50 for webgrad's interop check (`npm run interop`).

Run with an interpreter that has torch and torchvision (Debian: /usr/bin/python3 with
python3-torch and python3-torchvision). Only the standard library and torch are used: the
safetensors files are written by `write_safetensors` below (the `safetensors` package is not
needed).

    /usr/bin/python3 scripts/torch_export.py --out out/interop [--keys test/fixtures/torchvision_resnet_keys.json]

For each of resnet18 and resnet50 (torchvision.models.<name>(), seeded, 1000 classes) it writes
  <out>/<name>.safetensors      the state_dict, unchanged (num_batches_tracked as I64)
  <out>/<name>_io.safetensors   `input` [2, 3, H, W], and PyTorch's eval-mode `logits` [2, 1000]
                                and pooled `features` [2, 512 | 2048] for that input
Before exporting, the BatchNorm affine parameters are perturbed (weight 1 + 0.1 randn, bias
0.1 randn) and a few training-mode forward passes on random batches give the running statistics
(and num_batches_tracked) non-trivial values, so the comparison exercises every tensor of the
state_dict. With --keys it also writes the JSON key list (name, shape, dtype of each state_dict
entry of both models) that webgrad's tests check without torch.
"""
import argparse
import json
import os
import struct
import sys

import torch
import torchvision

DTYPES = {torch.float32: "F32", torch.int32: "I32", torch.int64: "I64"}
SIZES = {"F32": 4, "I32": 4, "I64": 8}


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} (in order) as a safetensors file, standard library + torch only.

    Layout: u64 LE header length N | N bytes of JSON header (space-padded to a multiple of 8) |
    data, 8-byte tensors (I64) first so every tensor is aligned to its element size.
    """
    items = []
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype not in DTYPES:
            raise ValueError(f"write_safetensors: '{name}' has dtype {t.dtype}; F32, I32 and I64 are supported")
        items.append((name, DTYPES[t.dtype], list(t.shape), t.numpy().tobytes()))
    if sys.byteorder != "little":
        raise RuntimeError("write_safetensors: this writer assumes a little-endian machine")
    order = sorted(items, key=lambda it: 0 if SIZES[it[1]] == 8 else 1)
    offsets, at = {}, 0
    for name, _, _, data in order:
        offsets[name] = (at, at + len(data))
        at += len(data)
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, dtype, shape, _ in items:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": list(offsets[name])}
    hjson = json.dumps(header, separators=(",", ":"))
    hjson += " " * ((8 - (8 + len(hjson.encode())) % 8) % 8)
    hbytes = hjson.encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for _, _, _, data in order:
            f.write(data)


def build(name, seed):
    """torchvision.models.<name>() seeded, BN affine perturbed, running statistics from a few train-mode batches."""
    torch.manual_seed(seed)
    model = getattr(torchvision.models, name)()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.copy_(1 + 0.1 * torch.randn_like(m.weight))
                m.bias.copy_(0.1 * torch.randn_like(m.bias))
        model.train()
        for _ in range(3):
            model(torch.randn(4, 3, 64, 64))
    return model.eval()


def features(model, x):
    """The globally pooled feature before fc (what webgrad's ResNet.features returns)."""
    m = model
    h = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    h = m.layer4(m.layer3(m.layer2(m.layer1(h))))
    return torch.flatten(m.avgpool(h), 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="directory for the safetensors files")
    ap.add_argument("--keys", help="also write the state_dict key list (JSON) here")
    ap.add_argument("--size", type=int, default=224, help="input height and width (default 224)")
    ap.add_argument("--batch", type=int, default=2, help="input batch (default 2)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(args.out, exist_ok=True)
    keys = {"source": f"torchvision {torchvision.__version__} (torch {torch.__version__}) models.resnet18() / resnet50(), "
                      "made by scripts/torch_export.py --keys", "models": {}}
    for i, name in enumerate(["resnet18", "resnet50"]):
        model = build(name, seed=1234 + i)
        sd = model.state_dict()
        keys["models"][name] = [[k, list(v.shape), DTYPES[v.dtype]] for k, v in sd.items()]
        torch.manual_seed(99 + i)
        x = torch.randn(args.batch, 3, args.size, args.size)
        with torch.no_grad():
            logits = model(x)
            feats = features(model, x)
            assert torch.allclose(model.fc(feats), logits, atol=1e-5)
        write_safetensors(os.path.join(args.out, f"{name}.safetensors"), sd, {"format": "pt", "model": f"torchvision.models.{name}"})
        write_safetensors(os.path.join(args.out, f"{name}_io.safetensors"), {"input": x, "logits": logits, "features": feats},
                          {"model": name, "mode": "eval"})
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {len(sd)} state_dict entries, {n_params} parameters, input {list(x.shape)} -> "
              f"logits {list(logits.shape)}, features {list(feats.shape)}")
    if args.keys:
        with open(args.keys, "w") as f:
            # One entry per line: small diffs when torchvision changes.
            f.write('{\n  "source": ' + json.dumps(keys["source"]) + ',\n  "models": {\n')
            blocks = []
            for name, rows in keys["models"].items():
                body = ",\n".join("      " + json.dumps(r) for r in rows)
                blocks.append(f'    "{name}": [\n{body}\n    ]')
            f.write(",\n".join(blocks) + "\n  }\n}\n")
        print(f"wrote {args.keys}")


if __name__ == "__main__":
    main()
