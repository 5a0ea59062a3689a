#!/usr/bin/env bash
# plait serve under MPI: `mpirun -np 2 plait serve --backend mpi --tp 2` (rank 0 serves
# HTTP and drives rank 1, which follows the same passes) answers a greedy completion
# with one worker's text, and SIGTERM to the ranks stops them cleanly (exit 0,
# "stopped"; SIGTERM to mpirun itself aborts the job: docs/LAUNCH.md).
# usage: mpi_serve_matches_threads.sh MPIRUN PLAIT MODEL
set -eu
mpirun=$1 plait=$2 model=$3
d=$(mktemp -d /tmp/plait-mpi-serve-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; cat "$d"/*.out "$d"/*.err 2>/dev/null; exit 1; }

# start NAME CMD...: runs CMD in the background, waits for its port
start() {
  local name=$1
  shift
  "$@" >"$d/$name.out" 2>"$d/$name.err" &
  pid=$!
  for _ in $(seq 1200); do grep -q listening "$d/$name.out" && break; sleep 0.1; done
  port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$d/$name.out")
  [ -n "$port" ] || fail "$name: no port in the output"
}
# request PATH BODY: the whole response (the server closes the connection)
request() {
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
    "$1" "${#2}" "$2" >&3
  cat <&3
  exec 3<&-
}
# stop NAME [PIDS]: SIGTERM to PIDS (default: the server), then exit 0 and 'stopped'
stop() {
  kill -TERM ${2:-$pid}
  local rc=0
  wait "$pid" || rc=$?
  pid=
  [ "$rc" -eq 0 ] || fail "$1 exited $rc after SIGTERM"
  grep -q stopped "$d/$1.out" || fail "$1: no 'stopped' line"
}
body='{"prompt":"The quick brown fox","max_tokens":12,"temperature":0}'
text() { grep -o '"text":"[^"]*"' "$1"; }

start one "$plait" serve --checkpoint "$model" --port 0 --blas-threads 1
request /v1/completions "$body" >"$d/one.json"
grep -q '"completion_tokens":12' "$d/one.json" || fail "one worker: $(cat "$d/one.json")"
[ -n "$(text "$d/one.json")" ] || fail "one worker: no text in $(cat "$d/one.json")"
stop one

start mpi "$mpirun" --allow-run-as-root --oversubscribe --mca btl_vader_single_copy_mechanism none \
  -np 2 "$plait" serve --checkpoint "$model" --port 0 --tp 2 --backend mpi
grep -q 'tp 2 x pp 1' "$d/mpi.out" || fail "mpi: not a tp2 server"
request /v1/completions "$body" >"$d/mpi.json"
grep -q '"completion_tokens":12' "$d/mpi.json" || fail "mpi: $(cat "$d/mpi.json")"
[ "$(text "$d/one.json")" = "$(text "$d/mpi.json")" ] ||
  fail "texts differ: $(text "$d/one.json") vs $(text "$d/mpi.json")"
ranks=$(pgrep -P "$pid")
[ "$(echo "$ranks" | wc -w)" -eq 2 ] || fail "mpirun's ranks: '$ranks'"
stop mpi "$ranks"
echo "ok: mpirun -np 2 serve --tp 2 answers one worker's greedy text and its ranks stop on SIGTERM"
