#!/bin/sh
# What checkpointing every step costs training, with and without the background writer
# (docs/FAULT_TOLERANCE.md, docs/PERFORMANCE.md). Runs the demo model (`make run`'s
# defaults) ROUNDS times in each of three ways, in rotating order so that the machine's
# load hits all alike:
#   none        no checkpoints at all
#   background  --checkpoint-every 1 (the default writer: snapshot, write on a thread)
#   inline      --checkpoint-every 1 --checkpoint-writer inline
# and prints, per way, the medians of the training loop's tokens/s (the metrics log's
# "end" event: the loop alone, start-up excluded), wall seconds and CPU seconds
# (user + sys) of the whole process, the load average before each run, and the share
# of the loop the training thread spent checkpointing (the end event's checkpoint_s /
# loop_s: the snapshot or inline write, and waits for background writes; under
# --tp/--pp rank 0's, one of the ranks that all snapshot and write their shards).
# usage: tools/checkpoint_overhead.sh [PLAIT] [ROUNDS] [STEPS] [LAYOUT FLAGS...]
#   e.g. tools/checkpoint_overhead.sh build/plait 3 20 --tp 2   (the demo model on tp2)
# WAYS="none background" limits the ways measured (default: all three).
set -eu
plait=${1:-build/plait} rounds=${2:-5} steps=${3:-60}
shift $(( $# < 3 ? $# : 3 ))
layout="$*"
ways=${WAYS:-none background inline}
d=$(mktemp -d /tmp/plait-ckpt-overhead-XXXXXX)
trap 'rm -rf "$d"' EXIT
one() {  # way round
  rm -rf "$d/run" "$d/log.jsonl"
  case $1 in
    none) extra="" ;;
    background) extra="--checkpoint-dir $d/run --checkpoint-every 1" ;;
    inline) extra="--checkpoint-dir $d/run --checkpoint-every 1 --checkpoint-writer inline" ;;
  esac
  load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f "%e %U %S" -o "$d/time" "$plait" train --steps "$steps" --eval-every 0 \
    --no-progress --log "$d/log.jsonl" $layout $extra >/dev/null 2>"$d/err" || { cat "$d/err"; exit 1; }
  end=$(grep '"event":"end"' "$d/log.jsonl" | /usr/bin/python3 -c 'import json, sys
e = json.loads(sys.stdin.read())
print(e["tok_per_s"], e.get("checkpoint_s", 0) / e["loop_s"] if "loop_s" in e else 0)')
  set -- "$1" "$2" $(cat "$d/time")
  echo "$1 $2 ${end% *} $3 $(echo "$4 $5" | awk '{print $1 + $2}') $load ${end#* }" | tee -a "$d/all"
}
echo "way round tok_per_s wall_s cpu_s load ckpt_share${layout:+ (layout: $layout)}"
for r in $(seq 1 "$rounds"); do
  set -- $ways  # rotated by the round, so the load hits every way alike
  i=0
  while [ $i -lt $((r % $#)) ]; do w=$1; shift; set -- "$@" "$w"; i=$((i + 1)); done
  for w in "$@"; do one "$w" "$r"; done
done
/usr/bin/python3 - "$d/all" <<'EOF'
import statistics as st, sys
rows = [l.split() for l in open(sys.argv[1])]
by = {}
for w, r, tps, wall, cpu, load, share in rows:
    by.setdefault(w, []).append((float(tps), float(wall), float(cpu), float(load), float(share)))
med = {w: [st.median(x[i] for x in v) for i in range(5)] for w, v in by.items()}
base = med["none"]
print("\nway         tok/s (median)  vs none   wall s   CPU s   load   training thread in checkpointing (median)")
for w in [w for w in ("none", "background", "inline") if w in med]:
    m = med[w]
    print(f"{w:<11} {m[0]:>14.0f}  {m[0] / base[0] - 1:+7.1%}  {m[1]:>7.2f}  {m[2]:>6.2f}  {m[3]:>5.1f}  {m[4]:.1%} of the loop")
# paired: each round's ratio to that round's run without checkpoints
for w in [w for w in ("background", "inline") if w in by]:
    ratios = [a[0] / b[0] - 1 for a, b in zip(by[w], by["none"])]
    print(f"{w}: median of paired tokens/s changes {st.median(ratios):+.1%} "
          f"(rounds: {' '.join(f'{x:+.1%}' for x in ratios)})")
EOF
