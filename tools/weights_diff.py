#!/usr/bin/env python3
"""Relative L2 difference |a - b| / |b| over every model tensor of two one-file plait
checkpoints (model.safetensors; data-parallel runs write that format), standard library
only. Prints the figure; with --max X exits 1 when it is larger than X.

usage: tools/weights_diff.py CHECKPOINT_A CHECKPOINT_B [--max 1e-5]
"""
import array
import json
import math
import struct
import sys


def tensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if t["dtype"] != "F32":
            raise SystemExit(f"{path}: {name} is {t['dtype']}, expected F32")
        b, e = t["data_offsets"]
        a = array.array("f")
        a.frombytes(data[8 + n + b:8 + n + e])
        if sys.byteorder != "little":
            a.byteswap()
        out[name] = a
    return out


def main():
    args = sys.argv[1:]
    limit = None
    if "--max" in args:
        i = args.index("--max")
        limit = float(args[i + 1])
        del args[i:i + 2]
    if len(args) != 2:
        raise SystemExit(__doc__)
    a, b = (tensors(p.rstrip("/") + "/model.safetensors") for p in args)
    if sorted(a) != sorted(b):
        raise SystemExit("the checkpoints hold different tensors")
    d = n = 0.0
    for name in a:
        if len(a[name]) != len(b[name]):
            raise SystemExit(f"{name}: different sizes")
        for x, y in zip(a[name], b[name]):
            d += (x - y) * (x - y)
            n += y * y
    rel = math.sqrt(d / n) if n > 0 else math.sqrt(d)
    print(f"{rel:.3e}")
    if limit is not None and not rel <= limit:
        sys.exit(1)


main()
