#!/usr/bin/env python3
"""PyTorch peer for plait: the same GPT-2 model, timed on the CPU. `plait bench
train` runs it paired with its own steps (tools/ of the repository is where it finds it).

Run with the system's PyTorch (Debian package python3-torch):
  /usr/bin/python3 tools/torch_gpt.py --layers 4 --dim 256 --heads 4 \
      --ctx 128 --batch 16 --threads 1 --steps 10 [--precision bf16] --json
  /usr/bin/python3 tools/torch_gpt.py --check    # exit 0 iff PyTorch imports

It times full training steps (zero_grad, forward, backward, AdamW step) on random
byte tokens and prints the median step time. Parameter names and shapes follow
nanoGPT, the same contract plait's checkpoints use. --precision bf16 runs the
forward pass under PyTorch's own CPU autocast (bf16 matmuls, fp32 master weights).

The BLAS PyTorch uses for fp32 matmuls (Debian's build: the system's libblas, i.e.
OpenBLAS) picks its kernels at load time; `plait` starts this script with
OPENBLAS_CORETYPE already corrected when OpenBLAS would pick a generic core, so both
sides run their best kernels. The JSON names the BLAS library and its core.
"""
import argparse, ctypes, json, math, sys, time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    if "--check" not in sys.argv:
        print(json.dumps({"peer": "pytorch", "error": f"PyTorch is missing: {e}"}))
    sys.exit(3)


class Block(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.ln_1 = nn.LayerNorm(C, eps=1e-5)
        self.attn = nn.Module()
        self.attn.c_attn = nn.Linear(C, 3 * C)
        self.attn.c_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C, eps=1e-5)
        self.mlp = nn.Module()
        self.mlp.c_fc = nn.Linear(C, 4 * C)
        self.mlp.c_proj = nn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.attn.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.H, C // self.H).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.H)
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.attn.c_proj(y)
        return x + self.mlp.c_proj(F.gelu(self.mlp.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, V, T, C, H, L):
        super().__init__()
        self.transformer = nn.Module()
        self.transformer.wte = nn.Embedding(V, C)
        self.transformer.wpe = nn.Embedding(T, C)
        self.transformer.h = nn.ModuleList([Block(C, H) for _ in range(L)])
        self.transformer.ln_f = nn.LayerNorm(C, eps=1e-5)
        # GPT-2 initialisation: N(0, 0.02), zero biases, residual projections scaled
        for name, p in self.named_parameters():
            if p.dim() == 1:
                nn.init.zeros_(p) if name.endswith("bias") else nn.init.ones_(p)
            else:
                std = 0.02 / math.sqrt(2 * L) if name.endswith("c_proj.weight") else 0.02
                nn.init.normal_(p, mean=0.0, std=std)

    def forward(self, idx, targets):
        t = self.transformer
        x = t.wte(idx) + t.wpe(torch.arange(idx.shape[1]))
        for block in t.h:
            x = block(x)
        logits = t.ln_f(x) @ t.wte.weight.T
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def blas_in_use():
    """The BLAS library this process loaded, and OpenBLAS's core if it is OpenBLAS."""
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({l.split()[-1] for l in f if "blas" in l.split()[-1].lower()})
    except OSError:
        return "unknown"
    for lib in libs:
        try:
            core = ctypes.CDLL(lib).openblas_get_corename
            core.restype = ctypes.c_char_p
            return f"{lib} (OpenBLAS core {core().decode()})"
        except (OSError, AttributeError):
            continue
    return ", ".join(libs) or "none found"


def main():
    if "--check" in sys.argv:
        return 0
    p = argparse.ArgumentParser()
    p.add_argument("--vocab", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--ctx", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = GPT(a.vocab, a.ctx, a.dim, a.heads, a.layers)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    x = torch.randint(0, a.vocab, (a.batch, a.ctx))
    y = torch.randint(0, a.vocab, (a.batch, a.ctx))
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            loss = model(x, y)
        loss.backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    n_params = sum(p.numel() for p in model.parameters())
    out = {"peer": "pytorch", "version": torch.__version__, "threads": a.threads,
           "precision": a.precision, "blas": blas_in_use(),
           "params": n_params, "step_ms": med * 1e3,
           "tokens_per_s": a.batch * a.ctx / med, "loss": float(loss)}
    print(json.dumps(out) if a.json else
          f"pytorch {torch.__version__}: {n_params} params, step {med*1e3:.1f} ms, "
          f"{a.batch*a.ctx/med:.0f} tok/s")


if __name__ == "__main__":
    sys.exit(main())
