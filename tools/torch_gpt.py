#!/usr/bin/env python3
"""PyTorch peer for plait: the same GPT-2 model, timed on the CPU. `plait bench
train` runs it paired with its own steps (tools/ of the repository is where it finds it).

Run with the system's PyTorch (Debian package python3-torch):
  /usr/bin/python3 tools/torch_gpt.py --layers 4 --dim 256 --heads 4 \
      --ctx 128 --batch 16 --threads 1 --steps 10 [--precision bf16] --json
  /usr/bin/python3 tools/torch_gpt.py --check    # exit 0 iff PyTorch imports

It times full training steps (zero_grad, forward, backward, AdamW step) on random
byte tokens and prints the median step time.

  /usr/bin/python3 tools/torch_gpt.py --generate W.safetensors --prompt-ids 1,2,3 \
      --tokens 64 --threads 2 --json

generates greedily from weights plait wrote (nanoGPT names, F32, the sizes in the
header's __metadata__: vocab, ctx, layers, dim, heads) with a key/value cache, as
`plait bench sample --peer` does, and prints the tokens and the tokens/s (decode
steps only, after the prompt's pass). Parameter names and shapes follow
nanoGPT, the same contract plait's checkpoints use. --precision bf16 runs the
forward pass under PyTorch's own CPU autocast (bf16 matmuls, fp32 master weights).

The BLAS PyTorch uses for fp32 matmuls (Debian's build: the system's libblas, i.e.
OpenBLAS) picks its kernels at load time; `plait` starts this script with
OPENBLAS_CORETYPE already corrected when OpenBLAS would pick a generic core, so both
sides run their best kernels. The JSON names the BLAS library, its core and its
thread count.

Threads: torch.set_num_threads() sets PyTorch's own (OpenMP) pool but NOT the threads
of a pthreads OpenBLAS, which default to the machine's cores: with --threads 1 the
products would still run on every core. So --threads also goes to OpenBLAS (its
environment variables before torch loads it, and openblas_set_num_threads after),
and the JSON reports the count OpenBLAS then uses ("blas_threads").
"""
import argparse, ctypes, json, math, os, sys, time


def _threads_from_argv(argv):
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"  # the parser's default


# Before torch (and with it the BLAS) is loaded: the BLAS reads these at load time.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _threads_from_argv(sys.argv)

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


def forward_cached(model, idx, cache, pos):
    """Logits after the last of idx [1, n] at positions pos.., appending each layer's
    keys and values [1, H, T, hs] to cache (a list, one (k, v) per layer)."""
    t = model.transformer
    x = t.wte(idx) + t.wpe(torch.arange(pos, pos + idx.shape[1]))
    for i, block in enumerate(t.h):
        B, T, C = x.shape
        H = block.H
        q, k, v = block.attn.c_attn(block.ln_1(x)).split(C, dim=2)
        q, k, v = (z.view(B, T, H, C // H).transpose(1, 2) for z in (q, k, v))
        if len(cache) > i:
            k = torch.cat([cache[i][0], k], dim=2)
            v = torch.cat([cache[i][1], v], dim=2)
            cache[i] = (k, v)
        else:
            cache.append((k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // H)
        mask = torch.ones(T, pos + T, dtype=torch.bool).tril(diagonal=pos)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + block.attn.c_proj(y)
        x = x + block.mlp.c_proj(F.gelu(block.mlp.c_fc(block.ln_2(x)), approximate="tanh"))
    return t.ln_f(x[:, -1, :]) @ t.wte.weight.T


def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, h in header.items():
        assert h["dtype"] == "F32", f"{name}: {h['dtype']} (F32 expected)"
        a, b = h["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).view(h["shape"])
    return meta, tensors


def generate(a):
    meta, tensors = read_safetensors(a.generate)
    V, T, L, C, H = (int(meta[k]) for k in ("vocab", "ctx", "layers", "dim", "heads"))
    model = GPT(tensors["transformer.wte.weight"].shape[0], T, C, H, L)
    model.load_state_dict(tensors, strict=True)
    model.eval()
    ids = [int(x) for x in a.prompt_ids.split(",")]
    assert len(ids) + a.tokens <= T, "the peer does not slide the window"
    out, cache = [], []
    with torch.inference_mode():
        t0 = time.perf_counter()
        logits = forward_cached(model, torch.tensor([ids]), cache, 0)
        t1 = time.perf_counter()
        for i in range(a.tokens):
            nxt = int(torch.argmax(logits[0, :V]))
            out.append(nxt)
            if i + 1 < a.tokens:
                logits = forward_cached(model, torch.tensor([[nxt]]), cache, len(ids) + i)
        t2 = time.perf_counter()
    res = {"peer": "pytorch", "version": torch.__version__, "threads": a.threads,
           "blas": blas_in_use(), "tokens": out, "prefill_s": t1 - t0,
           "decode_tokens_per_s": (a.tokens - 1) / (t2 - t1) if a.tokens > 1 else 0.0,
           "tokens_per_s": a.tokens / (t2 - t0)}
    print(json.dumps(res) if a.json else
          f"pytorch {torch.__version__}: {a.tokens} tokens, {res['tokens_per_s']:.1f} tok/s")


def _openblas():
    """The OpenBLAS library this process loaded (ctypes), its path; (None, names) else."""
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({l.split()[-1] for l in f if "blas" in l.split()[-1].lower()})
    except OSError:
        return None, "unknown"
    for lib in libs:
        try:
            h = ctypes.CDLL(lib)
            h.openblas_get_corename.restype = ctypes.c_char_p
            return h, lib
        except (OSError, AttributeError):
            continue
    return None, ", ".join(libs) or "none found"


def blas_in_use():
    """The BLAS library this process loaded, and OpenBLAS's core if it is OpenBLAS."""
    h, lib = _openblas()
    return f"{lib} (OpenBLAS core {h.openblas_get_corename().decode()})" if h else lib


def set_blas_threads(n):
    """OpenBLAS's thread count (0 if the BLAS is not OpenBLAS)."""
    h, _ = _openblas()
    if not h:
        return 0
    h.openblas_set_num_threads(n)
    return h.openblas_get_num_threads()


def profile(step, rows, steps=3):
    """Self CPU time per aten op over `steps` steps, per step, to stderr."""
    from torch.profiler import profile as prof, ProfilerActivity
    with prof(activities=[ProfilerActivity.CPU]) as p:
        for _ in range(steps):
            step()
    ev = sorted(p.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in ev)
    print(f"# torch.profiler, {steps} steps: self CPU ms per step (share)", file=sys.stderr)
    for e in ev[:rows]:
        print(f"{e.key:40s} {e.self_cpu_time_total / 1e3 / steps:9.2f} ms "
              f"({100 * e.self_cpu_time_total / total:4.1f}%)  calls/step {e.count // steps}",
              file=sys.stderr)
    print(f"{'total':40s} {total / 1e3 / steps:9.2f} ms", file=sys.stderr)


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
    p.add_argument("--profile", type=int, default=0, metavar="ROWS",
                   help="after the timed steps, profile 3 more (torch.profiler) and print "
                        "the ROWS aten ops with the most self CPU time per step")
    p.add_argument("--generate", help="safetensors weights: greedy generation instead")
    p.add_argument("--prompt-ids", default="10", help="comma-separated prompt ids")
    p.add_argument("--tokens", type=int, default=32)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.zeros(2, 2) @ torch.zeros(2, 2)  # loads the BLAS
    blas_threads = set_blas_threads(a.threads)
    if a.generate:
        return generate(a)
    torch.manual_seed(0)
    model = GPT(a.vocab, a.ctx, a.dim, a.heads, a.layers)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    x = torch.randint(0, a.vocab, (a.batch, a.ctx))
    y = torch.randint(0, a.vocab, (a.batch, a.ctx))
    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
            loss = model(x, y)
        loss.backward()
        opt.step()
        return loss

    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        loss = step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    if a.profile:
        profile(step, a.profile)
    times.sort()
    med = times[len(times) // 2]
    n_params = sum(p.numel() for p in model.parameters())
    out = {"peer": "pytorch", "version": torch.__version__, "threads": a.threads,
           "precision": a.precision, "blas": blas_in_use(), "blas_threads": blas_threads,
           "params": n_params, "step_ms": med * 1e3,
           "tokens_per_s": a.batch * a.ctx / med, "loss": float(loss)}
    print(json.dumps(out) if a.json else
          f"pytorch {torch.__version__}: {n_params} params, step {med*1e3:.1f} ms, "
          f"{a.batch*a.ctx/med:.0f} tok/s")


if __name__ == "__main__":
    sys.exit(main())
