#!/usr/bin/env python3
"""ZeRO benchmarks (docs/MEMORY.md, docs/PERFORMANCE.md): `plait train` at D workers with
--zero 0 (plain data parallelism), 1, 2 and 3, the variants taking turns round by round
(every other round reversed) so that a shared machine's load hits them alike.

  step time  median step_s (metrics log) over the second half of each run; the table
             gives each stage's per-round ratio to the plain run of the same round and
             the median of those ratios
  bytes      rank 0's optimizer, gradient and parameter bytes from the log's `end`
             event (gradient and parameter bytes are resident bytes measured with
             mincore after the last step, util/pages.h), against the fp32 formula
             per rank: parameters 4Ψ (/D at stage 3), gradients 4Ψ (/D at stages 2-3),
             AdamW moments 8Ψ (/D at stages 1-3); the page pools' bytes (stages 2-3:
             the gradient windows', stage 3: the gathered units') held beside them; and
             rank 0's memory by kind (the `memory` event), whose comm includes the pools

    tools/bench_zero.py [--plait build/plait] [--runs 5] [--workers 2] [--stages 0,1,2,3]
        [--memory-only] -- MODEL_ARGS...

Prints Markdown tables, the load average before and after.
"""
import argparse, os, re, statistics, sys, tempfile

from benchlib import load, model_args, step_records, train


def run(plait, args, tmp):
    records, out = train(plait, args + ["--checkpoint-dir", os.path.join(tmp, "ck"), "--overwrite"],
                         tmp)
    end, weights = {}, 0
    kinds = {}
    for j in records:
        if j.get("event") == "end":
            end = j
        elif j.get("event") == "memory" and j.get("ranks"):
            weights = j["ranks"][0].get("weights", 0)  # bytes of the arena (whole below ZeRO-3)
            kinds = j["ranks"][0]
    steps = step_records(records)
    m = re.search(r"training (\d+) parameters", out.stderr + out.stdout)
    # --no-progress: no start-up line; the arena's floats (not its resident weights,
    # which ZeRO-3 shards)
    psi = int(m.group(1)) if m else int(kinds.get("param_floats", int(weights) // 4))
    half = steps[len(steps) // 2:]
    end = dict(end, kinds=kinds)
    return statistics.median(s["step_s"] for s in half), end, psi


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plait", default="build/plait")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--stages", default="0,1,2,3")
    ap.add_argument("--memory-only", action="store_true")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    model = model_args(a.args)
    stages = [int(s) for s in a.stages.split(",")]
    before = load()
    times = {z: [] for z in stages}
    ends, psi = {}, 0
    runs = 1 if a.memory_only else a.runs
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(runs):
            for z in (stages if r % 2 == 0 else stages[::-1]):
                t, end, psi = run(a.plait, model + ["--workers", str(a.workers), "--zero", str(z)], tmp)
                times[z].append(t)
                ends[z] = end
            print(f"round {r + 1}/{runs} done (load {load()})", file=sys.stderr)
    after = load()
    D = a.workers
    print(f"load average before {before}, after {after}; {runs} round(s); {D} workers; "
          f"Ψ = {psi} parameters; model: {' '.join(model)}\n")
    if not a.memory_only and 0 in stages:
        print("| --zero | median step (s) | step / plain step (median of rounds) | per round |\n|---|---|---|---|")
        for z in stages:
            rs = [t / p for t, p in zip(times[z], times[0])]
            print(f"| {z} | {statistics.median(times[z]):.4f} | {statistics.median(rs):.3f} | "
                  + " ".join(f"{x:.3f}" for x in rs) + " |")
        print()
    print("| --zero | kind | rank 0 measured (bytes) | formula (bytes) | measured / formula |\n|---|---|---|---|---|")
    for z in stages:
        e = ends.get(z, {})
        want = {"optimizer": 8 * psi / (D if z >= 1 else 1),
                "gradient": 4 * psi / (D if z >= 2 else 1),
                "parameter": 4 * psi / (D if z >= 3 else 1)}
        for kind, f in want.items():
            got = e.get(f"{kind}_bytes_per_rank")
            if got is None:
                continue
            print(f"| {z} | {kind} | {got} | {f:.0f} | {got / f:.3f} |")
        for kind in ("gradient", "parameter"):  # the page pools beside the arenas
            pool = e.get(f"{kind}_pool_bytes_per_rank")
            if pool is not None:
                print(f"| {z} | {kind} page pool (util/page_pool.h) | {pool} | | |")
        if "gradient_peak_bytes_per_rank" in e:
            g = e["gradient_peak_bytes_per_rank"]
            print(f"| {z} | gradient, peak during a step (sampled) | {g} | {4 * psi:.0f} (4Ψ) | {g / (4 * psi):.3f} |")
    # rank 0's memory by kind (the `memory` event after the first step, MB); comm includes
    # the page pools (docs/MEMORY.md), shown apart from the end event; "held" = the kinds'
    # total
    cols = ["weights", "grads", "optimizer", "activations", "comm", "workspace"]
    print("\n| --zero | " + " | ".join(cols) + " | of comm: gradient pool | parameter pool | held | peak RSS (process) |")
    print("|---" * (len(cols) + 5) + "|")
    for z in stages:
        e = ends.get(z, {})
        k = e.get("kinds", {})
        pools = [e.get("gradient_pool_bytes_per_rank", 0), e.get("parameter_pool_bytes_per_rank", 0)]
        held = sum(k.get(c, 0) for c in cols)
        print(f"| {z} | " + " | ".join(f"{k.get(c, 0) / 1e6:.3f}" for c in cols) + " | "
              + " | ".join(f"{p / 1e6:.3f}" for p in pools)
              + f" | {held / 1e6:.3f} | {k.get('peak_rss', 0) / 1e6:.1f} |")


if __name__ == "__main__":
    main()
