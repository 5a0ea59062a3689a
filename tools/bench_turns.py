#!/usr/bin/env python3
"""Runs `plait bench train --json` several times for each value of one varied flag,
the values taking turns round by round (so a change in a shared machine's load hits
them alike; every other round in reverse order, so none always goes first), and
prints the medians as a Markdown table with every run listed.

    tools/bench_turns.py [--plait build/plait] [--runs 5] --vary=FLAG=V1,V2,... \\
        [--vary=FLAG2=...] -- ARGS...

ARGS go to every run (`bench train` and its flags, without --json). A value "-" means
the flag is left out; a flag with no value (e.g. --no-overlap) is written FLAG=on,off.
With two --vary flags every combination is one column of turns.
Example (docs/perf/data_parallel.md):

    tools/bench_turns.py --runs 5 --vary=--sync=ps,direct,ring,hierarchical -- \\
        bench train --workers 8 --ranks-per-node 2 --inter-link 50us:100MB/s ...
"""
import argparse, itertools, json, os, statistics, subprocess, sys


def flag_args(flag, value):
    if value == "-" or value == "off":
        return []
    if value == "on":
        return [flag]
    return [flag, value]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plait", default="build/plait")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--vary", action="append", default=[], metavar="FLAG=V1,V2")
    ap.add_argument("--keys", default="step_ms,tokens_per_s,comm_wait_share",
                    help="JSON fields to report")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    axes = []
    for v in a.vary:
        flag, _, values = v.partition("=")
        axes.append([(flag, x) for x in values.split(",")])
    combos = list(itertools.product(*axes)) if axes else [()]
    keys = a.keys.split(",")
    results = {c: [] for c in combos}
    with open("/proc/loadavg") as f:
        load_before = f.read().split()[:3]
    for r in range(a.runs):
        # Odd rounds go backwards, so that no variant always runs first.
        for c in (combos if r % 2 == 0 else combos[::-1]):
            cmd = [a.plait] + args + [x for flag, v in c for x in flag_args(flag, v)] + ["--json"]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr}")
            results[c].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"round {r + 1}/{a.runs}: {' '.join(f'{f} {v}' for f, v in c)} done",
                  file=sys.stderr)
    with open("/proc/loadavg") as f:
        load_after = f.read().split()[:3]
    print(f"load average before {' '.join(load_before)}, after {' '.join(load_after)}; "
          f"{a.runs} rounds; {os.path.basename(a.plait)} {' '.join(args)}\n")
    head = [" ".join(f"{f} {v}" for f, v in c) or "(as given)" for c in combos]
    print("| | " + " | ".join(head) + " |")
    print("|---" * (len(combos) + 1) + "|")
    for k in keys:
        med = [statistics.median(x[k] for x in results[c]) for c in combos]
        print(f"| {k} (median) | " + " | ".join(f"{m:.4g}" for m in med) + " |")
    for k in keys:
        runs = [" ".join(f"{x[k]:.3g}" for x in results[c]) for c in combos]
        print(f"| {k} (runs) | " + " | ".join(runs) + " |")
    extra = [k for k in ("buckets", "sync", "scaling_over_one_worker")
             if k not in keys and k in results[combos[0]][0]]
    for k in extra:
        vals = []
        for c in combos:
            xs = [x[k] for x in results[c]]
            vals.append(f"{statistics.median(xs):.3g}" if isinstance(xs[0], (int, float))
                        and not isinstance(xs[0], bool) else str(xs[0]))
        print(f"| {k} | " + " | ".join(vals) + " |")


if __name__ == "__main__":
    main()
