#!/usr/bin/env python3
"""Load test of `plait serve`: N concurrent streaming clients over loopback for a
bounded time, each sending completion requests one after another. Reports errors,
time to first token (p50, p99: from sending the request to the first text event)
and the server's tokens/s (text events of all clients / seconds).

  build/plait serve --checkpoint DIR --port 8080 --batch 16 --queue 64 &
  python3 tools/bench_serve.py --port 8080 --clients 32 --seconds 30 --max-tokens 32 --json

Standard library only (http.client, threads). Every text event of the stream is one
generated token's text (or a held-back piece), so events approximate tokens; the
exact count is the usage of non-streaming requests, which this test does not send.
"""
import argparse, http.client, json, statistics, sys, threading, time


def one_request(port, body, timeout):
    """(seconds to the first event, events, ok, error text)."""
    t0 = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", "/v1/completions", body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        if r.status != 200:
            return None, 0, False, f"HTTP {r.status}: {r.read()[:200]!r}"
        first, events, done = None, 0, False
        for line in r:
            line = line.strip()
            if not line.startswith(b"data: "):
                continue
            data = line[6:]
            if data == b"[DONE]":
                done = True
                break
            chunk = json.loads(data)
            if chunk["choices"][0]["finish_reason"] is None:
                events += 1
                if first is None:
                    first = time.perf_counter() - t0
        return first, events, done, "" if done else "stream ended without [DONE]"
    except Exception as e:  # counted, reported
        return None, 0, False, repr(e)
    finally:
        c.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    ttft, errors, events, requests = [], [], [0], [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + a.seconds

    def client(i):
        n = 0
        while time.perf_counter() < stop_at:
            body = json.dumps({"prompt": f"Client {i} request {n}: ", "max_tokens": a.max_tokens,
                               "temperature": a.temperature, "seed": i * 1000 + n, "stream": True})
            first, ev, ok, err = one_request(a.port, body, timeout=a.seconds + 60)
            with lock:
                requests[0] += 1
                events[0] += ev
                if ok and first is not None:
                    ttft.append(first)
                if not ok:
                    errors.append(err)
            n += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ttft.sort()
    q = lambda f: ttft[min(len(ttft) - 1, int(f * len(ttft)))] if ttft else float("nan")
    out = {"clients": a.clients, "seconds": wall, "requests": requests[0], "errors": len(errors),
           "first_errors": errors[:3], "ttft_p50_ms": q(0.50) * 1e3, "ttft_p99_ms": q(0.99) * 1e3,
           "tokens_per_s": events[0] / wall, "max_tokens": a.max_tokens}
    print(json.dumps(out) if a.json else
          f"{a.clients} clients, {wall:.1f} s: {requests[0]} requests, {len(errors)} errors, "
          f"time to first token p50 {out['ttft_p50_ms']:.0f} ms p99 {out['ttft_p99_ms']:.0f} ms, "
          f"{out['tokens_per_s']:.0f} tokens/s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
