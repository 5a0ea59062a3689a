#!/bin/sh
# The 124M measurement of docs/FINETUNE.md: a GPT-2-shaped model (random weights, in
# Hugging Face's layout) is imported, trained a few steps with tp2 x pp2 and exported;
# prints the wall time and peak memory (max RSS) of each command. Not a test.
#   tools/bench_import_124m.sh [WORK_DIR] [STEPS]
# Needs the system's PyTorch (python3-torch) once, to write the model; ~2 GB of disk.
set -eu
WORK=${1:-/tmp/plait-124m}
STEPS=${2:-3}
PLAIT=${PLAIT:-build/plait}
mkdir -p "$WORK"
[ -f "$WORK/gpt2/model.safetensors" ] ||
  /usr/bin/python3 tools/make_hf_fixture.py --gpt2-124m "$WORK/gpt2"
rm -rf "$WORK/run" "$WORK/out"

measure() {  # label, command...: wall seconds and max RSS from GNU time
  label=$1; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$@" >"$WORK/$label.log" 2>&1 ||
    { cat "$WORK/$label.log"; exit 1; }
  read -r secs kb <"$WORK/time.txt"
  echo "$label: $secs s wall, peak RSS $((kb / 1024)) MiB"
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $(lscpu | sed -n 's/^Model name: *//p')"
measure inspect "$PLAIT" inspect "$WORK/gpt2"
measure simulate "$PLAIT" simulate --init-from "$WORK/gpt2" --ctx 64 --batch 4 --tp 2 --pp 2 \
  --steps "$STEPS"
grep -E '^(step|memory) ' "$WORK/simulate.log"
measure train "$PLAIT" train --init-from "$WORK/gpt2" --ctx 64 --batch 4 --steps "$STEPS" \
  --tp 2 --pp 2 --eval-every 0 --eval-windows 2 --no-progress --checkpoint-dir "$WORK/run"
measure export "$PLAIT" export "$WORK/run" --format hf --dtype bf16 --out "$WORK/out"
measure export-f32 "$PLAIT" export "$WORK/run" --format nanogpt --out "$WORK/out/f32.safetensors"
measure reimport "$PLAIT" inspect "$WORK/out"
ls -l "$WORK/out"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
