#!/bin/bash
# Two plait binaries, the same runs: checkpoint tensors, logged losses and eval output
# must be byte-identical. The check behind a "no change of behaviour" restructuring
# (docs/PERFORMANCE.md, issue 11): build the old commit in a second worktree, then
#   tools/same_results.sh /tmp/before/build/plait build/plait
# Exit 0 when every run matches; one line per run either way.
set -u
OLD=${1:?usage: same_results.sh OLD_PLAIT NEW_PLAIT}
NEW=${2:?usage: same_results.sh OLD_PLAIT NEW_PLAIT}
D=$(mktemp -d /tmp/plait-same-XXXXXX)
trap 'rm -rf "$D"' EXIT
BASE="--layers 3 --dim 64 --heads 4 --ctx 32 --batch 8 --steps 6 --eval-every 3"
BASE="$BASE --eval-windows 8 --no-progress --blas-threads 1"
fail=0
while IFS='|' read -r name flags; do
  for b in old new; do
    bin=$OLD; [ $b = new ] && bin=$NEW
    # shellcheck disable=SC2086
    if ! "$bin" train $BASE $flags --checkpoint-dir "$D/$name.$b" --log "$D/$name.$b.jsonl" \
         > "$D/$name.$b.out" 2>&1; then
      echo "$name: $b binary failed: $(tail -1 "$D/$name.$b.out")"; fail=1; continue 2
    fi
  done
  st=same
  files=$(cd "$D/$name.old" && find . -name '*.safetensors' | sort)
  for f in $files; do cmp -s "$D/$name.old/$f" "$D/$name.new/$f" || { st="DIFFERENT $f"; fail=1; }; done
  python3 - "$D/$name.old.jsonl" "$D/$name.new.jsonl" <<'PY' || { st="$st, losses DIFFERENT"; fail=1; }
import json, sys
keys = ('step', 'loss', 'val_loss', 'grad_norm', 'lr')
def rows(p): return [{k: v for k, v in json.loads(l).items() if k in keys} for l in open(p)]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
sys.exit(0 if a and a == b else 1)
PY
  echo "$name: $st ($(echo "$files" | wc -w) tensor files, losses compared)"
done <<'RUNS'
one-worker|--workers 1
micro-batch-3|--workers 1 --micro-batch 3
dp2|--workers 2
dp3-speeds|--workers 3 --speeds 1 2 1
tp2|--tp 2
pp2|--pp 2 --micro-batches 4
pp3-gpipe|--pp 3 --micro-batches 4 --schedule gpipe
dp2-tp2-pp2|--dp 2 --tp 2 --pp 2
ps|--workers 2 --servers 1
RUNS
readme=$(dirname "$0")/../README.md
for b in old new; do
  bin=$OLD; [ $b = new ] && bin=$NEW
  "$bin" eval --checkpoint "$D/one-worker.old" --data "$readme" --json > "$D/eval.$b" 2>&1
done
if cmp -s "$D/eval.old" "$D/eval.new"; then echo "eval: same"; else echo "eval: DIFFERENT"; fail=1; fi
exit $fail
