#!/usr/bin/env python3
"""Writes a small GPT-2 in Hugging Face's layout, and its logits, for the import/export
tests (tests/fault/weights_test.cpp, tests/cli/export_test.cpp).

Run with the system's PyTorch (Debian's python3-torch); no `transformers` needed:
    /usr/bin/python3 tools/make_hf_fixture.py tests/fixtures/gpt2_hf

It writes, into the directory:
  model.safetensors       F32, exactly what GPT2Model.save_pretrained writes: names
                          `wte.weight`, `wpe.weight`, `h.N.ln_1.weight`, ...,
                          `h.N.attn.c_attn.weight` [C, 3C] (Conv1D: [in, out]), ...,
                          `ln_f.bias`; no lm_head (tied to wte); __metadata__ {format: pt}
  config.json             GPT2Config fields (n_embd, n_layer, n_head, n_positions, ...)
  model-f16.safetensors   the same weights as torch's .half()
  model-bf16.safetensors  the same weights as torch's .bfloat16()
  nanogpt.safetensors     the same weights in nanoGPT's layout: `transformer.*` names,
                          weights [out, in] (nn.Linear), and `lm_head.weight` = wte
  reference.safetensors   `tokens` [B, T] I32 (a fixed input) and `logits` [B, T, V] F32
                          of the HF-style forward pass below, computed in float64

    /usr/bin/python3 tools/make_hf_fixture.py --gpt2-124m DIR
writes only model.safetensors and config.json of a model with GPT-2 124M's shapes
(vocab 50257, 1024 positions, 12 layers, 768 channels, 12 heads; ~500 MB F32) and
random weights, for the import/train/export measurement in docs/FINETUNE.md (no real
GPT-2 can be downloaded here).

The forward pass is written here from Hugging Face's GPT-2 (modeling_gpt2.py): Conv1D
is `x @ W + b` with W [in, out]; GELU is "gelu_new" (tanh); LayerNorm eps 1e-5; the
LM head is wte transposed. It shares no code with plait or with ../shared/peers.
"""
import json, math, os, struct, sys

import torch

CFG = dict(vocab_size=256, n_positions=32, n_embd=32, n_layer=2, n_head=4)
B, T = 2, 32


def write_safetensors(path, tensors, metadata):
    dt = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int32: "I32"}
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        # raw little-endian bytes of any dtype (numpy has no bfloat16): view as bytes
        raw = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": dt[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def hf_weights(gen):
    """GPT-2 initialisation plus noise (LayerNorms away from 1/0), HF names/layout."""
    V, P, C, L = CFG["vocab_size"], CFG["n_positions"], CFG["n_embd"], CFG["n_layer"]
    r = lambda *s, std=0.02: torch.randn(*s, generator=gen) * std  # noqa: E731
    w = {"wte.weight": r(V, C), "wpe.weight": r(P, C, std=0.01)}
    for i in range(L):
        p = f"h.{i}."
        w[p + "ln_1.weight"] = 1 + r(C, std=0.1)
        w[p + "ln_1.bias"] = r(C, std=0.1)
        w[p + "attn.c_attn.weight"] = r(C, 3 * C, std=0.05)   # Conv1D [in, out]
        w[p + "attn.c_attn.bias"] = r(3 * C, std=0.05)
        w[p + "attn.c_proj.weight"] = r(C, C, std=0.05)
        w[p + "attn.c_proj.bias"] = r(C, std=0.05)
        w[p + "ln_2.weight"] = 1 + r(C, std=0.1)
        w[p + "ln_2.bias"] = r(C, std=0.1)
        w[p + "mlp.c_fc.weight"] = r(C, 4 * C, std=0.05)
        w[p + "mlp.c_fc.bias"] = r(4 * C, std=0.05)
        w[p + "mlp.c_proj.weight"] = r(4 * C, C, std=0.05)
        w[p + "mlp.c_proj.bias"] = r(C, std=0.05)
    w["ln_f.weight"] = 1 + r(C, std=0.1)
    w["ln_f.bias"] = r(C, std=0.1)
    return w


def hf_forward(w, tokens):
    """Hugging Face GPT-2's forward pass (eval mode), in float64."""
    w = {k: v.double() for k, v in w.items()}
    C, H = CFG["n_embd"], CFG["n_head"]
    hd = C // H
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (C,), w[p + ".weight"], w[p + ".bias"], 1e-5)  # noqa: E731
    conv1d = lambda x, p: torch.addmm(w[p + ".bias"], x.reshape(-1, x.shape[-1]), w[p + ".weight"]).reshape(*x.shape[:-1], -1)  # noqa: E731
    gelu_new = lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))  # noqa: E731
    Bn, Tn = tokens.shape
    h = w["wte.weight"][tokens] + w["wpe.weight"][torch.arange(Tn)]
    mask = torch.tril(torch.ones(Tn, Tn, dtype=torch.bool))
    for i in range(CFG["n_layer"]):
        p = f"h.{i}."
        q, k, v = conv1d(ln(h, p + "ln_1"), p + "attn.c_attn").split(C, dim=2)
        q, k, v = (t.view(Bn, Tn, H, hd).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(Bn, Tn, C)
        h = h + conv1d(y, p + "attn.c_proj")
        h = h + conv1d(gelu_new(conv1d(ln(h, p + "ln_2"), p + "mlp.c_fc")), p + "mlp.c_proj")
    return ln(h, "ln_f") @ w["wte.weight"].T


def nanogpt_layout(w):
    conv = (".attn.c_attn.weight", ".attn.c_proj.weight", ".mlp.c_fc.weight", ".mlp.c_proj.weight")
    out = {"transformer." + k: (v.T.contiguous() if k.endswith(conv) else v) for k, v in w.items()}
    out["lm_head.weight"] = w["wte.weight"]
    return out


def write_config(out):
    config = dict(architectures=["GPT2LMHeadModel"], model_type="gpt2", n_ctx=CFG["n_positions"],
                  n_inner=None, activation_function="gelu_new", layer_norm_epsilon=1e-5,
                  resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1, initializer_range=0.02,
                  scale_attn_weights=True, tie_word_embeddings=True, bos_token_id=0,
                  eos_token_id=0, **CFG)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")


def main():
    big = len(sys.argv) > 2 and sys.argv[1] == "--gpt2-124m"
    out = sys.argv[-1] if len(sys.argv) > 1 else "tests/fixtures/gpt2_hf"
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator().manual_seed(17)
    if big:
        CFG.update(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12)
        w = hf_weights(gen)
        write_safetensors(os.path.join(out, "model.safetensors"), w, {"format": "pt"})
        write_config(out)
        print(f"wrote {out}: {sum(v.numel() for v in w.values())} parameters (random)")
        return
    w = hf_weights(gen)
    tokens = torch.randint(0, CFG["vocab_size"], (B, T), generator=gen)
    logits = hf_forward(w, tokens).float()
    pt = {"format": "pt"}
    write_safetensors(os.path.join(out, "model.safetensors"), w, pt)
    write_safetensors(os.path.join(out, "model-f16.safetensors"), {k: v.half() for k, v in w.items()}, pt)
    write_safetensors(os.path.join(out, "model-bf16.safetensors"), {k: v.bfloat16() for k, v in w.items()}, pt)
    write_safetensors(os.path.join(out, "nanogpt.safetensors"), nanogpt_layout(w), pt)
    write_safetensors(os.path.join(out, "reference.safetensors"),
                      {"tokens": tokens.to(torch.int32), "logits": logits},
                      {"generator": "tools/make_hf_fixture.py", "torch": torch.__version__,
                       "forward": "Hugging Face GPT-2 (Conv1D x @ W + b, gelu_new), float64"})
    write_config(out)
    print(f"wrote {out}: {sum(v.numel() for v in w.values())} parameters, "
          f"logits[0,0,:3] = {logits[0, 0, :3].tolist()}")


if __name__ == "__main__":
    main()
