#!/usr/bin/env python3
"""The spread of the threads transport's ring allreduce over repeated runs:
`plait bench comm --algo ring --workers 2 --sizes 4M --json` run --runs times for
each binary, the binaries taking turns, on the machine as it is and then with one
extra busy process (a Python busy loop), printing bus bandwidth / memcpy per run,
the median and the minimum, and the load average before each set.

    tools/comm_spread.py [--runs 10] [--size 4M] LABEL=PATH [LABEL=PATH ...]

Example (docs/perf/comm.md): tools/comm_spread.py old=/tmp/plait_old new=build/plait
"""
import argparse, json, os, statistics, subprocess, sys, time


def ratio(plait, size):
    out = subprocess.run([plait, "bench", "comm", "--algo", "ring", "--workers", "2",
                          "--sizes", size, "--json"], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)["rows"][0]["busbw_over_memcpy"]


def run_set(bins, runs, size):
    got = {label: [] for label, _ in bins}
    for r in range(runs):
        order = bins if r % 2 == 0 else bins[::-1]
        for label, path in order:
            got[label].append(ratio(path, size))
    return got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--size", default="4M")
    ap.add_argument("bins", nargs="+", metavar="LABEL=PATH")
    a = ap.parse_args()
    bins = [tuple(b.split("=", 1)) for b in a.bins]
    print("| load | binary | median | min | max | runs (bus bw / memcpy) |")
    print("|---|---|---|---|---|---|")
    for busy in (False, True):
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
        try:
            time.sleep(0.5 if busy else 0)
            load = os.getloadavg()[0]
            got = run_set(bins, a.runs, a.size)
        finally:
            if spinner:
                spinner.kill()
                spinner.wait()
        for label, _ in bins:
            v = got[label]
            what = f"{load:.1f}" + (" + 1 busy process" if busy else "")
            print(f"| {what} | {label} | {statistics.median(v):.3f} | {min(v):.3f} | "
                  f"{max(v):.3f} | {' '.join(f'{x:.2f}' for x in v)} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
