"""Shared by the tools/bench_*.py runners (bench_balance, bench_stages, bench_zero): the
load average to record beside a figure, the MODEL_ARGS after `--`, and one `plait
train` run read back from its metrics log.
"""
import json, os, subprocess, sys


def load():
    """The 1, 5 and 15 minute load averages, as /proc/loadavg says them."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def model_args(rest):
    """argparse.REMAINDER's arguments without the `--` that separates them."""
    return rest[1:] if rest[:1] == ["--"] else rest


def train(plait, args, tmp, env=None):
    """Runs `plait train ARGS --log TMP/m.jsonl --eval-every 0` (with `env`'s variables
    added to the environment); exits with the command and its stderr when it fails.
    Returns the log's records (one dict a line) and the completed process (its stdout
    and stderr)."""
    log = os.path.join(tmp, "m.jsonl")
    if os.path.exists(log):
        os.remove(log)
    cmd = [plait, "train"] + args + ["--log", log, "--eval-every", "0"]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if out.returncode != 0:
        sys.exit(f"failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr}")
    with open(log) as f:
        return [json.loads(line) for line in f], out


def step_records(records):
    """The per-step records of a metrics log (a loss, no event)."""
    return [j for j in records if "loss" in j and "event" not in j]
