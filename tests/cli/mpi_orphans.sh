#!/bin/sh
# Ranks die with their launcher (docs/SECURITY.md, "Runs"): a 2-rank run paused after
# its step-1 checkpoint (PLAIT_TEST_PAUSE_AFTER_CHECKPOINT), then mpirun SIGKILLed; no
# rank of it may still be running 10 s later (each polls its parent every 200 ms).
# usage: mpi_orphans.sh MPIRUN PLAIT CORPUS
set -eu
mpirun=$1 plait=$2 corpus=$3
d=$(mktemp -d /tmp/plait-orphans-XXXXXX)
trap 'rm -rf "$d"' EXIT
PLAIT_TEST_PAUSE_AFTER_CHECKPOINT=1 "$mpirun" --allow-run-as-root --oversubscribe \
  --mca btl_vader_single_copy_mechanism none -np 2 "$plait" train --data "$corpus" \
  --layers 1 --dim 16 --heads 2 --ctx 8 --batch 2 --steps 3 --checkpoint-every 1 \
  --no-progress --backend mpi --checkpoint-dir "$d/run" >"$d/log" 2>&1 &
launcher=$!
i=0
while [ ! -e "$d/run/paused" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ -e "$d/run/paused" ] || { echo "FAIL: the run never paused"; cat "$d/log"; kill -9 $launcher; exit 1; }
ranks=$(pgrep -f -- "--checkpoint-dir $d/run" | grep -v "^$launcher\$" || true)
[ -n "$ranks" ] || { echo "FAIL: no rank processes found"; exit 1; }
kill -9 $launcher
i=0
while [ $i -lt 100 ]; do
  alive=""
  for p in $ranks; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
  [ -z "$alive" ] && break
  sleep 0.1; i=$((i + 1))
done
if [ -n "$alive" ]; then
  echo "FAIL: ranks$alive outlived their launcher"
  for p in $alive; do kill -9 "$p"; done
  exit 1
fi
echo "ok: every rank exited within $((i * 100)) ms of mpirun's SIGKILL"
