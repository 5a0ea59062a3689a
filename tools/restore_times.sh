#!/bin/sh
# Restore time of a multi-rank run's state, REPS repetitions, medians: from the ranks'
# memory snapshots (/dev/shm), from memory with rank 0's node lost (its part comes from
# the PEER's copy), and from the disk's checkpoint, cold (pages dropped from the page
# cache with posix_fadvise DONTNEED) and warm (in the page cache). Each figure is the
# "resumed from step N ... in X ms" line of `train --resume auto`: load, verify (sizes,
# XXH64, fingerprint) and hand out the state, rank 0's wall clock.
# LAYOUT: dp2 (2 data-parallel workers: rank 0's copy of the whole state and the peer's,
# parallel/peer_snapshot.h; losing rank 0's node = PLAIT_TEST_LOSE_SNAPSHOT=primary),
# tp2 or zero2 (sharded: every rank's piece and a peer's copy of it,
# parallel/shard_snapshot.h; losing rank 0's node = PLAIT_TEST_LOSE_SNAPSHOT=node:0).
# Every rank is its own emulated node (--ranks-per-node 1).
# usage: tools/restore_times.sh PLAIT REPS LAYOUT [model flags...]
#   e.g. tools/restore_times.sh build/plait 5 tp2 --layers 8 --dim 512
set -eu
plait=$1 reps=$2 layout=$3
shift 3
case $layout in
  dp2) lay="--workers 2" lose=primary ;;
  tp2) lay="--tp 2 --workers 2" lose=node:0 ;;
  zero2) lay="--zero 2 --workers 2" lose=node:0 ;;
  *) echo "LAYOUT: dp2, tp2 or zero2" >&2; exit 2 ;;
esac
base=${TMPDIR:-/var/tmp}
d=$(mktemp -d "$base/plait-restore-XXXXXX") shm=$(mktemp -d /dev/shm/plait-restore-XXXXXX)
trap 'rm -rf "$d" "$shm"' EXIT
common="$* $lay --ranks-per-node 1 --steps 1000 --batch 4 --eval-every 0 --no-progress"
common="$common --checkpoint-every 1000 --max-restarts 1"
# snapshots after steps 1 and 2 (memory keeps step 2), the disk's checkpoint after step 3
PLAIT_SUPERVISED=1 PLAIT_MEMORY_SNAPSHOT_DIR="$shm/snap" "$plait" train $common --stop-after 3 \
  --memory-snapshot-every 1 --checkpoint-dir "$d/run" 2>/dev/null
evict() {  # drop the files' pages from the page cache (only these files)
  find "$1" -type f -exec python3 -c 'import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)' {} +
}
resume() {  # resume RUN_DIR SNAPSHOT_DIR LOSE: the restore's milliseconds
  PLAIT_SUPERVISED=1 PLAIT_MEMORY_SNAPSHOT_DIR=$2 PLAIT_TEST_LOSE_SNAPSHOT=$3 "$plait" train \
    $common --resume auto --stop-after 1 --memory-snapshot-every 1000 --checkpoint-dir "$1" 2>&1 |
    grep -o 'resumed from .* in [0-9.]* ms' | tee -a "$d/lines" | sed 's/.* in \([0-9.]*\) ms/\1/'
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
M="" P="" C="" W=""
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$reps"); do
  rm -rf "$d/mem" "$d/cold" "$d/warm" "$shm/m" "$shm/empty" && mkdir "$shm/empty"
  cp -r "$d/run" "$d/mem" && rm -rf "$d/mem"/step-* "$d/mem/latest"  # memory only
  cp -r "$shm/snap" "$shm/m"
  m=$(resume "$d/mem" "$shm/m" none)
  rm -rf "$d/mem" "$shm/m" && cp -r "$d/run" "$d/mem" && rm -rf "$d/mem"/step-* "$d/mem/latest"
  cp -r "$shm/snap" "$shm/m"
  p=$(resume "$d/mem" "$shm/m" "$lose")
  cp -r "$d/run" "$d/cold" && cp -r "$d/run" "$d/warm"
  evict "$d/cold"
  c=$(resume "$d/cold" "$shm/empty" none)
  cat "$d/warm"/step-*/* >/dev/null
  w=$(resume "$d/warm" "$shm/empty" none)
  echo "rep $i ($layout): memory $m ms, peer's copy $p ms, disk cold $c ms, disk warm $w ms"
  M="$M $m" P="$P $p" C="$C $c" W="$W $w"
done
echo "what the restores said (times stripped):"
sed 's/ in [0-9.]* ms$//' "$d/lines" | sort | uniq -c
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median ($layout, $reps reps): memory $(echo $M | median) ms, peer's copy $(echo $P | median) ms," \
  "disk cold $(echo $C | median) ms, disk warm $(echo $W | median) ms;" \
  "checkpoint $(du -sh "$d/run/step-00000003" | cut -f1), memory $(du -sh "$shm/snap" | cut -f1)"
