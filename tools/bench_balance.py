#!/usr/bin/env python3
"""Balancing benchmarks (docs/BALANCE.md): `plait train` with emulated slow ranks
(--slowdown), --balance auto (with work stealing within each step, and without:
--steal off) against the equal split (--balance off), the variants of
each case taking turns round by round (every other round reversed) so that a shared
machine's load hits them alike. Figures come from the metrics log (--log):

  tok/s     steady state: batch x ctx / median step time over the second half of the run
  ideal     ctx x the median over the same steps of the SUM of the ranks' measured
            speeds (sequences per second of compute, smoothed): a split that kept
            every rank computing all the time, with free communication and optimizer
  recovery  (mid-run slowdown at step S) steps after S until the median tok/s of a
            5-step window first reaches 0.9 x the run's new ideal (and, separately,
            0.9 x its own final steady state)
  work/step the ranks' training threads' CPU seconds per step over the second half,
            summed over the ranks, less what they spent in waits for each other (the
            log's rank_work_cpu_s): the work of computing, measuring, balancing and
            logging, whatever the split; far less noisy than wall time on a shared
            machine, where waiting for a core costs no CPU
  cpu/step  the whole process's CPU seconds per step (every thread; the log's cpu_s),
            and of the whole run (the child's rusage, start-up included): these count
            the waits' spinning too (the threads transport spins while the ranks fit
            the cores), so they scatter more

Case overhead (nothing slow, auto against off): the two take turns, every other round
reversed, and every figure is a ratio within one round's pair; `--runs 15` or more
resolves a few percent. It prints the median ratio, the quartiles, and the mean of the
per-pair log-ratios with two standard errors (a ~95% interval).

    tools/bench_balance.py [--plait build/plait] [--runs 5] [--yardstick OTHER_PLAIT]
        [--before OTHER_PLAIT] [--overhead-runs N]
        [--cases two,three,midrun,overhead] [--keep DIR] -- MODEL_ARGS...

--before: another plait binary (e.g. main before a change): cases two, three and
three2x also run its `auto` (variant `before`, taking turns with the others), and
report auto / before. --overhead-runs: rounds of case overhead (default --runs).
--yardstick: a plait binary without balancing (e.g. main before it), for the overhead
of measuring (case overhead: this binary's --balance off and auto vs it, no slowdown).
Prints a Markdown table of medians with every per-round ratio, the load before/after.
"""
import argparse, math, os, resource, shutil, statistics, sys, tempfile

from benchlib import load, model_args, step_records, train

CASES = {
    # name: [(label, extra args[, extra environment])], the ratios to report
    # auto: with work stealing within each step (the default under auto); nosteal: the
    # re-split alone (--steal off)
    "two": [("equal", ["--workers", "2", "--slowdown", "1:2", "--balance", "off"]),
            ("auto", ["--workers", "2", "--slowdown", "1:2", "--balance", "auto"]),
            ("nosteal", ["--workers", "2", "--slowdown", "1:2", "--balance", "auto",
                         "--steal", "off"])],
    "three": [("equal", ["--workers", "3", "--slowdown", "1:1.67", "--slowdown", "2:3.33",
                         "--balance", "off"]),
              ("auto", ["--workers", "3", "--slowdown", "1:1.67", "--slowdown", "2:3.33",
                        "--balance", "auto"]),
              ("nosteal", ["--workers", "3", "--slowdown", "1:1.67", "--slowdown", "2:3.33",
                           "--balance", "auto", "--steal", "off"])],
    # three's auto with the direct allreduce (2 rounds of messages) instead of the ring
    # that --sync's default takes for 3 workers (2(N-1) = 4 rounds)
    "threedirect": [("equal", ["--workers", "3", "--slowdown", "1:1.67", "--slowdown", "2:3.33",
                               "--balance", "off", "--sync", "direct"]),
                    ("auto", ["--workers", "3", "--slowdown", "1:1.67", "--slowdown", "2:3.33",
                              "--balance", "auto", "--sync", "direct"])],
    # the same relative speeds 1 : 0.6 : 0.3 at half the pace (slowdowns 2, 3.33, 6.67):
    # the three ranks need 0.95 of a core together, so a 2-core machine has the headroom
    # three separate chips would (case three needs 1.9 of the 2 cores for compute alone)
    "three2x": [("equal", ["--workers", "3", "--slowdown", "0:2", "--slowdown", "1:3.33",
                           "--slowdown", "2:6.67", "--balance", "off"]),
                ("auto", ["--workers", "3", "--slowdown", "0:2", "--slowdown", "1:3.33",
                          "--slowdown", "2:6.67", "--balance", "auto"])],
    # the emulation before 2026-12-02 (PLAIT_SLOWDOWN_WALL=1, balance/slowdown.h): a slowed
    # rank's sleep stretched its whole wall time, including its waits for a core
    "threewall": [("equal", ["--workers", "3", "--slowdown", "1:1.67", "--slowdown", "2:3.33",
                             "--balance", "off"], {"PLAIT_SLOWDOWN_WALL": "1"}),
                  ("auto", ["--workers", "3", "--slowdown", "1:1.67", "--slowdown", "2:3.33",
                            "--balance", "auto"], {"PLAIT_SLOWDOWN_WALL": "1"})],
    "midrun": [("auto", ["--workers", "2", "--slowdown", "1:2@{mid}", "--balance", "auto"])],
    "overhead": [("off", ["--workers", "2", "--balance", "off"]),
                 ("auto", ["--workers", "2", "--balance", "auto"])],
}


def child_cpu_s():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def run(plait, args, tmp, env=None):
    """The run's step records and stderr; the records' first gets `run_cpu_s`, the
    child's CPU seconds (user + sys, start-up included)."""
    c0 = child_cpu_s()
    records, out = train(plait, args + ["--no-progress"], tmp, env)
    steps = step_records(records)
    if steps:
        steps[0]["run_cpu_s"] = child_cpu_s() - c0
    return steps, out.stderr


def figures(steps, batch, ctx, mid=None):
    half = steps[len(steps) // 2:]
    f = {}
    if len(half) > 1 and all("cpu_s" in s for s in half):
        f["cpu/step"] = (half[-1]["cpu_s"] - half[0]["cpu_s"]) / (len(half) - 1)
    if len(half) > 1 and all("rank_work_cpu_s" in s for s in half):
        f["work/step"] = (sum(half[-1]["rank_work_cpu_s"]) - sum(half[0]["rank_work_cpu_s"])) / (len(half) - 1)
    if steps and "run_cpu_s" in steps[0]:
        f["run cpu/step"] = steps[0]["run_cpu_s"] / len(steps)
    if all("step_s" in s for s in half):
        f["tok/s"] = batch * ctx / statistics.median(s["step_s"] for s in half)
    if all("rank_speed" in s for s in half):
        f["ideal"] = ctx * statistics.median(sum(s["rank_speed"]) for s in half)
    if all("rank_compute_s" in s and "step_s" in s for s in half):
        # Where a step goes beyond the ideal: `balance` = this step's own ideal compute
        # (batch / the sum of the ranks' raw speeds share/compute this step) over its
        # slowest rank's compute (1 = every rank finished together); `compute` = the
        # slowest rank's compute over the step (the rest: waiting for the reduction,
        # optimizer, logging).
        def own_ideal(s):  # rank_run: what each rank ran under work stealing
            ran = s.get("rank_run", s["rank_share"])
            return batch / sum(n / c for n, c in zip(ran, s["rank_compute_s"]) if c > 0)
        f["balance"] = statistics.median(own_ideal(s) / max(s["rank_compute_s"]) for s in half)
        # where a step goes (means over the second half, ms): the ideal (the smoothed
        # speeds'), the slowest-computing rank's compute beyond it, that rank's wait for
        # the gradients' reduction, and the rest (the step's exchange, the optimizer,
        # a late start, logging)
        def slowest(s):
            return max(range(len(s["rank_compute_s"])), key=lambda r: s["rank_compute_s"][r])
        if all("rank_speed" in s and sum(s["rank_speed"]) > 0 for s in half):
            ms = {"step": statistics.mean(s["step_s"] for s in half),
                  "ideal": statistics.mean(batch / sum(s["rank_speed"]) for s in half),
                  "compute": statistics.mean(max(s["rank_compute_s"]) for s in half),
                  "wait": statistics.mean(s["rank_wait_s"][slowest(s)] for s in half)}
            f["ms"] = {"step": ms["step"], "ideal": ms["ideal"],
                       "beyond ideal": ms["compute"] - ms["ideal"], "wait": ms["wait"],
                       "rest": ms["step"] - ms["compute"] - ms["wait"]}
        f["compute"] = statistics.median(max(s["rank_compute_s"]) / s["step_s"] for s in half)
    if mid is not None and "ideal" in f:
        per_step = [batch * ctx / s["step_s"] for s in steps]
        for key, target in (("recovery_ideal", 0.9 * f["ideal"]), ("recovery_own", 0.9 * f["tok/s"])):
            f[key] = float("nan")
            for k in range(mid, len(steps) - 4):
                if statistics.median(per_step[k:k + 5]) >= target:
                    f[key] = k - mid
                    break
    return f


def spread(xs):
    """The quartiles of per-pair ratios, and the mean of their logs with two standard
    errors, as ratios: `median m, quartiles a-b; geometric mean g (lo-hi, +-2 SE), n`."""
    q = statistics.quantiles(xs, n=4) if len(xs) > 1 else [xs[0]] * 3
    logs = [math.log(x) for x in xs]
    g = statistics.mean(logs)
    se = statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else float("nan")
    return (f"median {statistics.median(xs):.4f}, quartiles {q[0]:.4f}-{q[2]:.4f}; geometric mean "
            f"{math.exp(g):.4f} ({math.exp(g - 2 * se):.4f}-{math.exp(g + 2 * se):.4f}, +-2 SE), "
            f"{len(xs)} pairs")


def value(args, flag, default):
    return int(args[args.index(flag) + 1]) if flag in args else default


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plait", default="build/plait")
    ap.add_argument("--yardstick", default="")
    ap.add_argument("--before", default="")
    ap.add_argument("--overhead-runs", type=int, default=0)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cases", default="two,three,midrun,overhead")
    ap.add_argument("--keep", default="", help="copy every run's metrics log into this folder")
    ap.add_argument("--mid", type=int, default=20, help="midrun: the step the slowdown starts")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    model = model_args(a.args)
    batch, ctx = value(model, "--batch", 16), value(model, "--ctx", 128)
    before = load()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in a.cases.split(","):
            variants = [(v[0], [x.format(mid=a.mid) for x in v[1]], v[2] if len(v) > 2 else {})
                        for v in CASES[case]]
            if case == "overhead" and a.yardstick:
                variants.append(("yardstick", ["--workers", "2"], {}))
            if a.before and case in ("two", "three", "three2x"):
                variants.append(("before", *[v[1:] for v in variants if v[0] == "auto"][0]))
            runs = a.overhead_runs if case == "overhead" and a.overhead_runs > 0 else a.runs
            res = {l: [] for l, _, _ in variants}
            for r in range(runs):
                for label, extra, env in (variants if r % 2 == 0 else variants[::-1]):
                    plait = {"yardstick": a.yardstick, "before": a.before}.get(label, a.plait)
                    steps, _ = run(plait, model + extra, tmp, env)
                    if a.keep:
                        os.makedirs(a.keep, exist_ok=True)
                        shutil.copy(os.path.join(tmp, "m.jsonl"),
                                    os.path.join(a.keep, f"{case}-{label}-{r + 1}.jsonl"))
                    res[label].append(figures(steps, batch, ctx, a.mid if case == "midrun" else None))
                print(f"{case}: round {r + 1}/{runs} done (load {load()})", file=sys.stderr)
            rows.append((case, variants, res))
    after = load()
    print(f"load average before {before}, after {after}; {a.runs} rounds; model: {' '.join(model)}\n")
    print("| case | figure | median | per round |\n|---|---|---|---|")
    spreads = []
    for case, variants, res in rows:
        def ratio(num, den, key_n="tok/s", key_d="tok/s"):
            rs = [n[key_n] / d[key_d] for n, d in zip(res[num], res[den])]
            return statistics.median(rs), rs
        out = []
        if case in ("two", "three", "three2x", "threewall", "threedirect"):
            out.append(("auto / equal tok/s", *ratio("auto", "equal")))
            out.append(("auto tok/s / ideal", *ratio("auto", "auto", "tok/s", "ideal")))
            out.append(("equal tok/s / ideal", *ratio("equal", "equal", "tok/s", "ideal")))
            if "nosteal" in res:
                out.append(("nosteal / equal tok/s", *ratio("nosteal", "equal")))
                out.append(("nosteal tok/s / ideal", *ratio("nosteal", "nosteal", "tok/s", "ideal")))
                out.append(("auto / nosteal tok/s", *ratio("auto", "nosteal")))
            if "before" in res:
                out.append(("before tok/s / ideal", *ratio("before", "before", "tok/s", "ideal")))
                out.append(("auto / before tok/s", *ratio("auto", "before")))
            for label in [l for l in ("auto", "nosteal", "before") if l in res]:
                for key, what in (("balance", "in-step balance (own ideal / slowest compute)"),
                                  ("compute", "slowest compute / step")):
                    xs = [f[key] for f in res[label]]
                    out.append((f"{label} {what}", statistics.median(xs), xs))
        elif case == "midrun":
            for key in ("recovery_ideal", "recovery_own"):
                xs = [f[key] for f in res["auto"]]
                out.append((f"steps to 0.9 x {'new ideal' if key.endswith('ideal') else 'own steady state'}",
                            statistics.median(xs), xs))
            out.append(("auto tok/s / ideal (second half)", *ratio("auto", "auto", "tok/s", "ideal")))
        elif case == "overhead":
            out.append(("auto / off tok/s", *ratio("auto", "off")))
            if all("work/step" in f for f in res["auto"] + res["off"]):
                out.append(("auto / off work CPU per step (all ranks, no waits)", *ratio("auto", "off", "work/step", "work/step")))
            if all("cpu/step" in f for f in res["auto"] + res["off"]):
                out.append(("auto / off process CPU per step", *ratio("auto", "off", "cpu/step", "cpu/step")))
            out.append(("auto / off CPU per step (whole run)",
                        *ratio("auto", "off", "run cpu/step", "run cpu/step")))
            if "yardstick" in res:
                out.append(("off / yardstick tok/s", *ratio("off", "yardstick")))
                out.append(("auto / yardstick tok/s", *ratio("auto", "yardstick")))
        for name, med, xs in out:
            print(f"| {case} | {name} | **{med:.3g}** | {' '.join(f'{x:.3g}' for x in xs)} |")
        if case == "overhead":
            for name, _, xs in out:
                spreads.append(f"{name}: {spread(xs)}")
    print("\nwhere a step goes (ms, mean over the second half, median over the rounds): "
          "step = ideal + slowest compute beyond it + its wait for the reduction + the rest")
    for c, _, res in rows:
        for l in res:
            if all("ms" in f for f in res[l]):
                keys = res[l][0]["ms"].keys()
                print(f"  {c}/{l}: " + ", ".join(
                    f"{k} {statistics.median(f['ms'][k] for f in res[l]) * 1e3:.2f}" for k in keys))
    tok = {f"{c}/{l}": statistics.median(f["tok/s"] for f in res[l]) for c, _, res in rows for l in res}
    print("\nmedian tok/s: " + ", ".join(f"{k} {v:.0f}" for k, v in tok.items()))
    for key, what in (("cpu/step", "process CPU"), ("work/step", "the ranks' work CPU")):
        cpu = {f"{c}/{l}": statistics.median(f[key] for f in res[l]) * 1e3
               for c, _, res in rows for l in res if all(key in f for f in res[l])}
        if cpu:
            print(f"median {what} ms per step (second half): " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
    for s in spreads:
        print(f"overhead {s}")


if __name__ == "__main__":
    main()
