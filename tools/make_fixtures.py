#!/usr/bin/env python3
"""Writes the PyTorch parity fixtures that tests/model/parity_test.cpp checks.

Run with the system's PyTorch (Debian's python3-torch):
    /usr/bin/python3 tools/make_fixtures.py tests/fixtures

It builds the peer model of tools/torch_gpt.py (the same GPT-2
architecture and nanoGPT names as plait), and stores in tests/fixtures/gpt_small.safetensors:
  - every initial weight under its nanoGPT name,
  - "batch.tokens", "batch.targets" [B,T] as I32,
  - "logits" [B,T,V] and "loss" [] of the forward pass,
  - "grad.<name>" for every parameter (of the mean loss over all B*T tokens),
  - "step_loss" [3]: the loss before each of 3 AdamW steps (lr 1e-3 constant,
    betas 0.9/0.95, eps 1e-8, weight decay 0.1 on 2-D tensors only, gradient-norm
    clipping at 1.0), and "after.<name>": every weight after the 3 steps.
  - "loss_after" [3]: the loss after each of the 3 steps (loss_after[k] = step_loss[k+1]).
The safetensors writer is a few lines here, so no extra Python package is needed.

    /usr/bin/python3 tools/make_fixtures.py --check FILE.safetensors...
reads any safetensors file (e.g. a plait checkpoint's model.safetensors) with an
independent parser into torch tensors and lists them: an interoperability check.
"""
import json, os, struct, sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # tools/: the peer lives beside this script
from torch_gpt import GPT  # noqa: E402  (the peer model, same architecture)

CFG = dict(vocab=256, ctx=16, layers=2, dim=32, heads=4)
B, T, STEPS, LR = 3, 16, 3, 1e-3


def write_safetensors(path, tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        dtype = {torch.float32: "F32", torch.int32: "I32"}[t.dtype]
        raw = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_safetensors(path):
    """An independent reader (no safetensors package): checks the layout the format
    requires and returns (metadata, {name: tensor}). Used by --check to confirm that
    files plait writes (checkpoints) load as they are outside plait."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert 8 + n <= len(raw), f"{path}: header length {n} is larger than the file"
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    assert all(isinstance(v, str) for v in meta.values()), "__metadata__ values must be strings"
    dtypes = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32,
              "I64": torch.int64, "U8": torch.uint8}
    data, end, tensors = raw[8 + n:], 0, {}
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        b, f = e["data_offsets"]
        assert b == end, f"{path}: tensor {name} starts at {b}, expected {end} (hole or overlap)"
        t = torch.frombuffer(bytearray(data[b:f]), dtype=dtypes[e["dtype"]]) if f > b else \
            torch.empty(0, dtype=dtypes[e["dtype"]])
        tensors[name] = t.reshape(e["shape"])
        end = f
    assert end == len(data), f"{path}: data section is {len(data)} bytes, tensors cover {end}"
    return meta, tensors


def check(paths):
    for path in paths:
        meta, tensors = read_safetensors(path)
        print(f"{path}: {len(tensors)} tensors, metadata {meta}")
        for name, t in tensors.items():
            print(f"  {name:48s} {str(t.dtype):14s} {list(t.shape)}")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        return check(sys.argv[2:])
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures"
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    model = GPT(CFG["vocab"], CFG["ctx"], CFG["dim"], CFG["heads"], CFG["layers"])
    # Larger-than-init weights so every gradient is far from zero and LayerNorm
    # parameters differ from (1, 0): a stricter test than the initialisation.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, CFG["vocab"], (B, T), generator=g)
    targets = torch.randint(0, CFG["vocab"], (B, T), generator=g)
    params = dict(model.named_parameters())
    out = {name: p.detach().clone() for name, p in params.items()}
    out["batch.tokens"] = tokens.to(torch.int32)
    out["batch.targets"] = targets.to(torch.int32)

    t = model.transformer
    x = t.wte(tokens) + t.wpe(torch.arange(T))
    for block in t.h:
        x = block(x)
    logits = t.ln_f(x) @ t.wte.weight.T
    loss = torch.nn.functional.cross_entropy(logits.view(-1, CFG["vocab"]), targets.view(-1))
    loss.backward()
    out["logits"] = logits.detach()
    out["loss"] = loss.detach().reshape([])
    for name, p in params.items():
        out["grad." + name] = p.grad.detach().clone()

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.95), eps=1e-8)
    step_loss = []
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=True)
        loss = model(tokens, targets)
        step_loss.append(float(loss))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    out["step_loss"] = torch.tensor(step_loss, dtype=torch.float32)
    # The loss after each step: step_loss[1:] plus one more forward after the last step.
    with torch.no_grad():
        final_loss = float(model(tokens, targets))
    out["loss_after"] = torch.tensor(step_loss[1:] + [final_loss], dtype=torch.float32)
    for name, p in params.items():
        out["after." + name] = p.detach().clone()

    meta = {k: str(v) for k, v in CFG.items()}
    meta.update(batch=str(B), lr=str(LR), betas="0.9,0.95", eps="1e-8", weight_decay="0.1",
                clip_norm="1.0", steps=str(STEPS), torch=torch.__version__,
                weight_decay_on="tensors with dim >= 2 (matrices, embeddings)",
                loss="mean cross-entropy over all B*T tokens", lr_schedule="constant",
                generator="tools/make_fixtures.py")
    path = os.path.join(out_dir, "gpt_small.safetensors")
    write_safetensors(path, out, meta)
    _, back = read_safetensors(path)  # the file reads back bit for bit
    assert all(torch.equal(back[k], v.detach().contiguous()) for k, v in out.items())
    print(f"wrote {out_dir}/gpt_small.safetensors: loss {float(out['loss']):.6f}")


if __name__ == "__main__":
    main()
