#!/usr/bin/env python3
"""Writes a synthetic nanoGPT-layout token set for the RSS benchmark (docs/PERFORMANCE.md):
DIR/train.bin with N uint16 tokens and DIR/val.bin with 1M, every token below GPT-2's
50257 (both bytes of a token are < 196, so the largest is 195*256+195 = 50115).

    python3 tools/make_token_set.py DIR N
"""
import os
import sys

TABLE = bytes(b % 196 for b in range(256))
CHUNK = 1 << 26  # bytes per write


def write(path, tokens):
    left = 2 * tokens
    with open(path, "wb") as f:
        while left > 0:
            n = min(CHUNK, left)
            f.write(os.urandom(n).translate(TABLE))
            left -= n


def main():
    out, n = sys.argv[1], int(float(sys.argv[2]))
    os.makedirs(out, exist_ok=True)
    write(os.path.join(out, "train.bin"), n)
    write(os.path.join(out, "val.bin"), 1_000_000)
    print(f"wrote {out}: {n} train tokens, 1000000 val tokens (uint16)")


if __name__ == "__main__":
    main()
