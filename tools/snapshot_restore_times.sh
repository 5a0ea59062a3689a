#!/bin/sh
# Restore time of a run's state from a memory snapshot (/dev/shm) vs from the disk's
# checkpoint, cold (the checkpoint's pages dropped from the page cache with
# posix_fadvise DONTNEED, so it is read from the device) and warm (in the page cache,
# e.g. just written). Each figure is the "resumed from step N ... in X ms" line of
# `train --resume` (parallel/train_state.cpp: load + verify sizes, XXH64, fingerprint).
# Then the same for 2 workers on 2 emulated nodes (--ranks-per-node 1): from the PEER's
# copy (parallel/peer_snapshot.h: rank 1 loads DIR/peer and broadcasts the state to
# rank 0, whose own copy is missing) vs from the disk, cold.
# usage: tools/snapshot_restore_times.sh PLAIT REPS [model flags...]
#   e.g. tools/snapshot_restore_times.sh build/plait 5 --layers 8 --dim 512
set -eu
plait=$1 reps=$2
shift 2
model="$*"
base=${TMPDIR:-/var/tmp}
d=$(mktemp -d "$base/plait-restore-XXXXXX") shm=$(mktemp -d /dev/shm/plait-restore-XXXXXX)
trap 'rm -rf "$d" "$shm"' EXIT
common="$model --steps 1000 --batch 4 --eval-every 0 --workers 1 --no-progress"
"$plait" train $common --stop-after 2 --checkpoint-every 1 --checkpoint-dir "$d/run" 2>/dev/null
evict() {  # drop the files' pages from the page cache (only these files)
  find "$1" -type f -exec python3 -c 'import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' {} +
}
# memory: the snapshot holds step 2, the disk only step 1
mkdir -p "$shm/snap" && cp -r "$d/run/step-00000002" "$shm/snap/" && echo step-00000002 >"$shm/snap/latest"
resume() {  # resume DIR SNAPSHOT_DIR: the restore line
  PLAIT_SUPERVISED=1 PLAIT_MEMORY_SNAPSHOT_DIR=$2 "$plait" train $common --resume \
    --stop-after 1 --checkpoint-dir "$1" --max-restarts 1 --memory-snapshot-every 1000 2>&1 |
    grep -o 'resumed from .* in [0-9.]* ms' | sed 's/.* in \([0-9.]*\) ms/\1/'
}
for i in $(seq "$reps"); do
  rm -rf "$d/mem" "$d/cold" "$d/warm" "$shm/empty" && mkdir "$shm/empty"
  cp -r "$d/run" "$d/mem" && rm -rf "$d/mem/step-00000002" && echo step-00000001 >"$d/mem/latest"
  cp -r "$d/run" "$d/cold" && cp -r "$d/run" "$d/warm"
  m=$(resume "$d/mem" "$shm/snap")
  evict "$d/cold"
  c=$(resume "$d/cold" "$shm/empty")
  cat "$d/warm"/step-00000002/* >/dev/null
  w=$(resume "$d/warm" "$shm/empty")
  echo "rep $i: memory $m ms, disk cold $c ms, disk warm $w ms"
done
two="$model --steps 1000 --batch 4 --eval-every 0 --workers 2 --ranks-per-node 1 --no-progress"
resume2() {  # resume2 DIR SNAPSHOT_DIR: the restore line of a 2-worker run
  PLAIT_SUPERVISED=1 PLAIT_MEMORY_SNAPSHOT_DIR=$2 "$plait" train $two --resume \
    --stop-after 1 --checkpoint-dir "$1" --max-restarts 1 --memory-snapshot-every 1000 2>&1 |
    grep -o 'resumed from .* in [0-9.]* ms' | sed 's/.* in \([0-9.]*\) ms/\1/'
}
mkdir -p "$shm/peeronly/peer" && cp -r "$d/run/step-00000002" "$shm/peeronly/peer/" &&
  echo step-00000002 >"$shm/peeronly/peer/latest"
for i in $(seq "$reps"); do
  rm -rf "$d/mem" "$d/cold" "$shm/empty" && mkdir "$shm/empty"
  cp -r "$d/run" "$d/mem" && rm -rf "$d/mem/step-00000002" && echo step-00000001 >"$d/mem/latest"
  cp -r "$d/run" "$d/cold"
  p=$(resume2 "$d/mem" "$shm/peeronly")
  evict "$d/cold"
  c=$(resume2 "$d/cold" "$shm/empty")
  echo "rep $i, 2 workers: peer's memory copy $p ms, disk cold $c ms"
done
echo "checkpoint: $(du -sh "$d/run/step-00000002" | cut -f1)"
