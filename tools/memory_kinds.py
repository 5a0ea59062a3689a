#!/usr/bin/env python3
# Memory by kind, measured by `plait train` (the metrics log's memory event) against
# `plait simulate --json` on the same flags (docs/MEMORY.md). Usage:
#   python3 tools/memory_kinds.py [build/plait] [one,dp2 zero1,tp2,pp2 1f1b M4]
import json, subprocess, sys, os
B = sys.argv[1] if len(sys.argv) > 1 else 'build/plait'
base = "--layers 8 --dim 256 --heads 4 --ctx 128 --batch 8 --eval-every 0 --no-progress --blas-threads 1".split()
layouts = {
  'one': [],
  'dp2 zero1': ['--workers', '2', '--zero', '1'],
  'tp2': ['--workers', '2', '--tp', '2'],
  'pp2 1f1b M4': ['--workers', '2', '--pp', '2', '--micro-batches', '4'],
}
modes = ['none', 'selective', 'block']
kinds = ['weights', 'grads', 'optimizer', 'activations', 'comm', 'workspace']
out = []
sel = sys.argv[2].split(',') if len(sys.argv) > 2 else list(layouts)
for name in sel:
  for mode in modes:
    flags = base + layouts[name] + ['--recompute', mode]
    log = f'/tmp/plait_memory_kinds_{name.replace(" ","_")}_{mode}.jsonl'
    if os.path.exists(log): os.remove(log)
    subprocess.run([B, 'train'] + flags + ['--steps', '2', '--log', log, '--checkpoint-dir', '/tmp/plait_memory_kinds_run', '--overwrite'], check=True, capture_output=True)
    ranks = None
    for line in open(log):
      e = json.loads(line)
      if e.get('event') == 'memory': ranks = e['ranks']
    busiest = max(ranks, key=lambda r: r['total'])
    sim = json.loads(subprocess.run([B, 'simulate'] + flags + ['--steps', '2', '--json'], check=True, capture_output=True, text=True).stdout)['memory']
    row = {'layout': name, 'mode': mode, 'rank': busiest['rank'], 'rss': busiest['peak_rss']}
    for k in kinds: row[k] = (busiest[k], sim[k])
    out.append(row)
    print(name, mode, 'rank', busiest['rank'], ' '.join(f"{k} {busiest[k]/1e6:.3f}/{sim[k]/1e6:.3f}" for k in kinds), f"rss {busiest['peak_rss']/1e6:.1f}", flush=True)
json.dump(out, open('/tmp/plait_memory_kinds.json', 'w'))
