#!/usr/bin/env python3
"""The demo's speed (`make run`'s training: layers 4, dim 128, heads 4, ctx 128,
batch 16, 2 in-process data-parallel workers), two or more plait binaries taking
turns on the same machine: tokens/s as the run reports it (wall clock over its
steps, evaluation included), and the process's CPU time (user + sys) per step, which
a shared machine's load disturbs much less. Prints one row per run, the medians and
the ratios to the first binary, with the load average before each run.

    tools/demo_speed.py [--rounds 3] [--steps 100] [--json] LABEL=PATH [LABEL=PATH ...]
    tools/demo_speed.py old=/tmp/plait_old/plait new=build/plait

Extra training flags after `--` go to every run (e.g. -- --precision bf16).
"""
import argparse, json, os, resource, statistics, subprocess, sys, tempfile, time


def one_run(plait, steps, extra):
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "log.jsonl")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        subprocess.run([plait, "train", "--steps", str(steps), "--no-progress", "--log", log]
                       + extra, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        end = [json.loads(l) for l in open(log)][-1]
    return {"tok_per_s": end["tok_per_s"], "cpu_s": cpu, "wall_s": wall,
            "cpu_ms_per_step": 1e3 * cpu / steps, "loss": end["loss"]}


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("bins", nargs="+", metavar="LABEL=PATH")
    a = ap.parse_args(argv)
    bins = [tuple(b.split("=", 1)) for b in a.bins]
    runs = {label: [] for label, _ in bins}
    if not a.json:
        print("| round | binary | load (1 min) | tokens/s | CPU ms/step | wall s | final loss |")
        print("|---|---|---|---|---|---|---|")
    for r in range(a.rounds):
        order = bins if r % 2 == 0 else bins[::-1]
        for label, path in order:
            load = os.getloadavg()[0]
            res = one_run(path, a.steps, extra)
            res["load"] = load
            runs[label].append(res)
            if not a.json:
                print(f"| {r + 1} | {label} | {load:.1f} | {res['tok_per_s']:.0f} | "
                      f"{res['cpu_ms_per_step']:.1f} | {res['wall_s']:.1f} | {res['loss']:.4f} |")
                sys.stdout.flush()
    base = bins[0][0]
    med = {label: {k: statistics.median(x[k] for x in v) for k in ("tok_per_s", "cpu_ms_per_step")}
           for label, v in runs.items()}
    summary = {label: dict(m, tok_per_s_ratio=m["tok_per_s"] / med[base]["tok_per_s"],
                           cpu_speedup=med[base]["cpu_ms_per_step"] / m["cpu_ms_per_step"])
               for label, m in med.items()}
    if a.json:
        print(json.dumps({"steps": a.steps, "extra": extra, "runs": runs, "median": summary},
                         indent=1))
        return
    print()
    print(f"| binary | median tokens/s | / {base} | median CPU ms/step | {base} CPU / this |")
    print("|---|---|---|---|---|")
    for label, s in summary.items():
        print(f"| {label} | {s['tok_per_s']:.0f} | {s['tok_per_s_ratio']:.2f} | "
              f"{s['cpu_ms_per_step']:.1f} | {s['cpu_speedup']:.2f} |")


if __name__ == "__main__":
    main()
