#!/usr/bin/env python3
"""--stages auto against every hand-picked split (docs/BALANCE.md, "Pipeline stages
by cost"): `plait train --pp 2` of an L-layer model with a stage slowed (or a large
head), each split a,L-a for a in 1..L-1 and --stages auto, R rounds in which the
variants take turns (every other round reversed). Figure: each run's tokens/s (the
metrics log's end event: all its steps, the pipeline's bubble included) and, per
round, auto's over the best hand-picked split's.

    tools/bench_stages.py [--plait build/plait] [--runs 3] -- TRAIN_ARGS (with --layers L --pp 2)
"""
import argparse, statistics, sys, tempfile

from benchlib import load, model_args, train


def run(plait, args, tmp):
    records, out = train(plait, args, tmp)
    chose = next((l for l in out.stderr.splitlines() if l.startswith("stages auto")), "")
    for j in records:
        if j.get("event") == "end":
            return j["tok_per_s"], chose
    sys.exit("no end event in the log")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plait", default="build/plait")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    model = model_args(a.args)
    layers = int(model[model.index("--layers") + 1])
    variants = [(f"{k},{layers - k}", ["--stages", f"{k},{layers - k}"]) for k in range(1, layers)]
    variants.append(("auto", ["--stages", "auto"]))
    res = {v: [] for v, _ in variants}
    chose = []
    before = load()
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.runs):
            for label, extra in (variants if r % 2 == 0 else variants[::-1]):
                tok, said = run(a.plait, model + extra + ["--no-progress"] if label != "auto" else model + extra, tmp)
                res[label].append(tok)
                if said:
                    chose.append(said)
            print(f"round {r + 1}/{a.runs} done (load {load()})", file=sys.stderr)
    after = load()
    print(f"load average before {before}, after {after}; {a.runs} rounds; model: {' '.join(model)}\n")
    print("| --stages | median tok/s | per round |\n|---|---|---|")
    for label, _ in variants:
        print(f"| {label} | {statistics.median(res[label]):.0f} | {' '.join(f'{x:.0f}' for x in res[label])} |")
    hand = [l for l, _ in variants if l != "auto"]
    per_round = []
    for r in range(a.runs):
        best = max(res[l][r] for l in hand)
        per_round.append(res["auto"][r] / best)
    best_label = max(hand, key=lambda l: statistics.median(res[l]))
    print(f"\nbest hand-picked (median): {best_label}; auto / best hand-picked of each round: "
          f"median **{statistics.median(per_round):.3f}** ({' '.join(f'{x:.3f}' for x in per_round)})")
    for c in sorted(set(chose)):
        print(f"auto said: {c}")


if __name__ == "__main__":
    main()
