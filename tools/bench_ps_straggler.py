#!/usr/bin/env python3
"""A slow parameter-server worker (docs/BALANCE.md, "Stragglers and the parameter
server"): wall seconds of `plait train --workers 2 --servers 1 --slowdown 1:2` under
--ps-mode sync and stale (--staleness 4), each with --balance off and auto; 5 rounds,
the variants taking turns (every other round reversed), with the load before/after.

    tools/bench_ps_straggler.py [EXTRA TRAIN ARGS, default --slowdown 1:2]
Run from the repository root after building build/plait; the corpus is $DATA
(default /tmp/c14.txt; any ~120 KB text file).
"""
import os, subprocess, time, statistics, sys
B="build/plait"
M=("--data "+os.environ.get("DATA","/tmp/c14.txt")+" --layers 2 --dim 64 --heads 4 --ctx 64 --batch 32 --steps 60 --blas-threads 1 --workers 2 --servers 1 --eval-every 0 --no-progress").split()
slow = sys.argv[1:] if len(sys.argv) > 1 else ["--slowdown","1:2"]
load=lambda: open('/proc/loadavg').read().split()[:3]
print("load before", load(), "extra", slow)
V=[("sync","off"),("stale","off"),("sync","auto"),("stale","auto")]
res={v:[] for v in V}
for r in range(5):
  for v in (V if r%2==0 else V[::-1]):
    a=M+slow+["--ps-mode",v[0],"--balance",v[1]]+(["--staleness","4"] if v[0]=="stale" else [])
    t=time.time(); subprocess.run([B,"train"]+a,check=True,capture_output=True); res[v].append(time.time()-t)
  print("round",r+1,{f"{a}/{b}":round(x[-1],2) for (a,b),x in res.items()}, load(), flush=True)
print("load after", load())
for v,x in res.items(): print(v, "median %.2f s"%statistics.median(x), [round(y,2) for y in x])
for r in range(5):
  print("round",r+1,"stale/sync off %.2f"%(res[("stale","off")][r]/res[("sync","off")][r]), "sync auto/off %.2f"%(res[("sync","off")][r]/res[("sync","auto")][r]), "stale auto/off %.2f"%(res[("stale","off")][r]/res[("stale","auto")][r]))
