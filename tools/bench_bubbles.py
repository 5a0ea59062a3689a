#!/usr/bin/env python3
"""Measures the pipeline bubble of GPipe and 1F1B for each P x M with
`plait bench train --pp P --micro-batches M --schedule S --rounds R --json` and prints
a Markdown table: the measured mean bubble (median of R rounds), per stage, against
(P-1)/(M+P-1) and simulate_pipeline() with the measured per-stage costs, with the
1-minute load average before each run.

    tools/bench_bubbles.py [--plait build/plait] [--rounds 3] [--pp 2,4] [--m 1,4,8] \\
        [--jsonl FILE] -- ARGS...

ARGS (the model, batch, steps, --blas-threads) go to every run.
Example (docs/perf/model_parallel.md):

    tools/bench_bubbles.py --rounds 3 -- --layers 8 --dim 128 --heads 4 --ctx 64 \\
        --batch 32 --steps 3 --blas-threads 1
"""
import argparse, json, os, subprocess, sys


def fmt(v):
    return " ".join(f"{x:.2f}" for x in v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plait", default="build/plait")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pp", default="2,4")
    ap.add_argument("--m", default="1,4,8")
    ap.add_argument("--schedules", default="gpipe,1f1b")
    ap.add_argument("--jsonl", help="also append every run's JSON here")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    o = ap.parse_args()
    args = o.args[1:] if o.args[:1] == ["--"] else o.args
    print("| P | M | schedule | ideal (P-1)/(M+P-1) | measured, of makespan | simulated, of makespan "
          "| measured, own phase | simulated, own phase | per stage, of makespan (measured / simulated) "
          "| fwd / bwd ms per micro-batch, per stage | step ms | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for P in [int(x) for x in o.pp.split(",")]:
        for M in [int(x) for x in o.m.split(",")]:
            for s in o.schedules.split(","):
                load = os.getloadavg()[0]
                cmd = [o.plait, "bench", "train", *args, "--pp", str(P), "--micro-batches",
                       str(M), "--schedule", s, "--rounds", str(o.rounds), "--json"]
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode != 0:
                    sys.exit(f"{' '.join(cmd)}: exit {out.returncode}: {out.stderr.strip()}")
                j = json.loads(out.stdout)
                if o.jsonl:
                    with open(o.jsonl, "a") as f:
                        f.write(json.dumps({**j, "load1": load}) + "\n")
                print(f"| {P} | {M} | {s} | {j['ideal_bubble']:.3f} | {j['bubble_of_makespan']:.3f} "
                      f"| {j['simulated_bubble_of_makespan']:.3f} | {j['bubble']:.3f} "
                      f"| {j['simulated_bubble']:.3f} "
                      f"| {fmt(j['stage_bubble_of_makespan'])} / {fmt(j['simulated_stage_bubble_of_makespan'])} "
                      f"| {fmt(j['stage_forward_ms'])} / {fmt(j['stage_backward_ms'])} "
                      f"| {j['step_ms']:.0f} | {load:.1f} |", flush=True)


if __name__ == "__main__":
    main()
