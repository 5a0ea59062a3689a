#!/usr/bin/env python3
# Step time of --recompute none|selective|block, paired: the modes take turns in each
# round (same binary, same flags), median over rounds of tokens/s (the end event) and
# of the process's user CPU seconds; ratios against none (docs/PERFORMANCE.md).
# Usage: python3 tools/recompute_speed.py [build/plait] [rounds]
import json, os, resource, statistics, subprocess, sys
B = sys.argv[1] if len(sys.argv) > 1 else 'build/plait'
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
flags = ("--layers 8 --dim 256 --heads 4 --ctx 128 --batch 8 --steps 10 --eval-every 0 "
         "--eval-windows 1 --no-progress --blas-threads 1").split()
modes = ['none', 'selective', 'block']
tok, cpu = {m: [] for m in modes}, {m: [] for m in modes}
for r in range(rounds):
  for m in modes:
    log = f'/tmp/plait_recompute_speed_{m}.jsonl'
    if os.path.exists(log): os.remove(log)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    subprocess.run([B, 'train'] + flags + ['--recompute', m, '--log', log, '--checkpoint-dir',
                    '/tmp/plait_recompute_speed_run', '--overwrite'], check=True, capture_output=True)
    cpu[m].append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before)
    for line in open(log):
      e = json.loads(line)
      if e.get('event') == 'end': tok[m].append(e['tok_per_s'])
print('load', os.getloadavg())
for m in modes:
  t, c = statistics.median(tok[m]), statistics.median(cpu[m])
  print(f"{m:10s} tok/s {t:8.0f} (runs {[round(x) for x in tok[m]]})  user CPU {c:6.2f} s  "
        f"step-time ratio {statistics.median(tok['none']) / t:.3f}  CPU ratio {c / statistics.median(cpu['none']):.3f}")
