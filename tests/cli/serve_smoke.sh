#!/usr/bin/env bash
# plait serve as a user starts it: it prints the port it listens on (--port 0: any
# free one), answers GET /healthz and POST /v1/completions (plain HTTP over bash's
# /dev/tcp, no client library), refuses malformed JSON with 400, and stops on SIGTERM
# with exit 0. Bad flags exit 2 with one line.
# usage: serve_smoke.sh PLAIT MODEL
set -eu
plait=$1 model=$2
d=$(mktemp -d /tmp/plait-serve-XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$d"' EXIT
fail() { echo "FAIL: $*"; cat "$d/out" "$d/err" 2>/dev/null; exit 1; }

for bad in "--port 70000" "--queue 0" "--batch 0" "--port -1"; do
  set +e
  "$plait" serve --checkpoint "$model" $bad >"$d/bad.out" 2>"$d/bad.err"
  rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "serve $bad exited $rc, not 2"
  [ "$(wc -l <"$d/bad.err")" -eq 1 ] || fail "serve $bad printed more than one line"
done

"$plait" serve --checkpoint "$model" --port 0 >"$d/out" 2>"$d/err" &
pid=$!
for _ in $(seq 600); do grep -q listening "$d/out" && break; sleep 0.1; done
port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$d/out")
[ -n "$port" ] || fail "no port in the output"

# request METHOD PATH [BODY]: the whole response (the server closes the connection)
request() {
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf '%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' \
    "$1" "$2" "${#3}" "$3" >&3
  cat <&3
  exec 3<&-
}
request GET /healthz "" >"$d/h"
grep -q '"status":"ok"' "$d/h" || fail "healthz: $(cat "$d/h")"
request POST /v1/completions '{"prompt":"The ","max_tokens":5,"temperature":0}' >"$d/c"
grep -q '200 OK' "$d/c" || fail "completion: $(cat "$d/c")"
grep -q '"completion_tokens":5' "$d/c" || fail "completion: $(cat "$d/c")"
request POST /v1/completions '{"prompt": oops' >"$d/e"
grep -q '400 Bad Request' "$d/e" || fail "malformed JSON: $(cat "$d/e")"
grep -q '"error"' "$d/e" || fail "malformed JSON: $(cat "$d/e")"

kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" -eq 0 ] || fail "serve exited $rc after SIGTERM"
grep -q stopped "$d/out" || fail "no 'stopped' line"
echo "ok: serve answered healthz, a completion and a bad request, then stopped"
