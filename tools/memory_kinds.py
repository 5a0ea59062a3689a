#!/usr/bin/env python3
# Memory by kind, measured by `plait train` (the metrics log's memory event) against
# `plait simulate --json` on the same flags (docs/MEMORY.md). Usage:
#   python3 tools/memory_kinds.py [build/plait] [LAYOUT,LAYOUT,...] [MODE,MODE,...]
# Layouts are the names below (default: the four of the recompute table); modes are
# --recompute's (default: none,selective,block). ZeRO layouts also print, for the
# busiest rank, weights, gradients and optimizer against the ZeRO paper's per-rank
# formulas in fp32 (4Ψ weights, 4Ψ gradients, 8Ψ moments, each ÷ D where the stage
# shards it), Ψ being the rank's replica (its (tp, pp) coordinate's arena), and, with
# ZeRO-2/3 under data parallelism, the page pools (part of comm) measured / predicted.
# A layout name may end in options for the base flags: "dp2 zero2 L32" (--layers 32),
# "dp2 zero2 b1" (--bucket-mb 1), e.g. "dp4 zero3 L32 b0.5".
import json, subprocess, sys, os
B = sys.argv[1] if len(sys.argv) > 1 else 'build/plait'
base = "--layers 8 --dim 256 --heads 4 --ctx 128 --batch 8 --eval-every 0 --no-progress --blas-threads 1".split()
layouts = {
  'one': [],
  'dp2 zero1': ['--workers', '2', '--zero', '1'],
  'tp2': ['--workers', '2', '--tp', '2'],
  'pp2 1f1b M4': ['--workers', '2', '--pp', '2', '--micro-batches', '4'],
}
for D in (2, 4):
  layouts[f'dp{D}'] = ['--workers', str(D)]
  for z in (1, 2, 3):
    layouts[f'dp{D} zero{z}'] = ['--workers', str(D), '--zero', str(z)]
layouts['dp2 tp2 zero3'] = ['--dp', '2', '--tp', '2', '--zero', '3']
layouts['dp2 pp2 zero2'] = ['--dp', '2', '--pp', '2', '--micro-batches', '2', '--zero', '2']
layouts['dp2 pp2 zero3'] = ['--dp', '2', '--pp', '2', '--micro-batches', '2', '--zero', '3']
kinds = ['weights', 'grads', 'optimizer', 'activations', 'comm', 'workspace']
sel = sys.argv[2].split(',') if len(sys.argv) > 2 else ['one', 'dp2 zero1', 'tp2', 'pp2 1f1b M4']


def layout_flags(name):
  words = name.split()
  extra = {}
  while words and words[-1][0] in 'Lb' and words[-1][1:].replace('.', '', 1).isdigit():
    w = words.pop()
    extra['--layers' if w[0] == 'L' else '--bucket-mb'] = w[1:]
  flags = list(base)
  for k, v in extra.items():
    if k in flags: flags[flags.index(k) + 1] = v
    else: flags += [k, v]
  return flags + layouts[' '.join(words)], layouts[' '.join(words)]
modes = sys.argv[3].split(',') if len(sys.argv) > 3 else ['none', 'selective', 'block']


def flag(flags, name, default):
  return int(flags[flags.index(name) + 1]) if name in flags else default


out = []
for name in sel:
  for mode in modes:
    flags, lay = layout_flags(name)
    flags = flags + ['--recompute', mode]
    tag = name.replace(' ', '_')
    log = f'/tmp/plait_memory_kinds_{tag}_{mode}.jsonl'
    if os.path.exists(log): os.remove(log)
    # (a generous watchdog: ZeRO-3's evaluation of a deep model on a loaded machine
    # may take longer than the default between two signs of progress)
    subprocess.run([B, 'train'] + flags + ['--steps', '2', '--heartbeat-timeout', '600', '--log', log, '--checkpoint-dir',
                   f'/tmp/plait_memory_kinds_run_{tag}', '--overwrite'], check=True, capture_output=True)
    ranks = None
    for line in open(log):
      e = json.loads(line)
      if e.get('event') == 'memory': ranks = e['ranks']
    busiest = max(ranks, key=lambda r: r['total'])
    sim = json.loads(subprocess.run([B, 'simulate'] + flags + ['--steps', '2', '--json'], check=True, capture_output=True, text=True).stdout)['memory']
    row = {'layout': name, 'mode': mode, 'rank': busiest['rank'], 'rss': busiest['peak_rss']}
    for k in kinds: row[k] = (busiest[k], sim[k])
    line = f"{name} {mode} rank {busiest['rank']} " + ' '.join(f"{k} {busiest[k]/1e6:.3f}/{sim[k]/1e6:.3f}" for k in kinds) + f" rss {busiest['peak_rss']/1e6:.1f}"
    pools = busiest.get('grad_pool', 0) + busiest.get('param_pool', 0)
    if pools or sim.get('pools', 0):
      row['pools'] = (busiest.get('grad_pool', 0), busiest.get('param_pool', 0), sim.get('pools', 0))
      line += f" | pools (of comm) grads {busiest['grad_pool']/1e6:.3f} params {busiest['param_pool']/1e6:.3f} = {pools/1e6:.3f}/{sim['pools']/1e6:.3f}"
    z = flag(lay, '--zero', 0)
    if z:
      D = flag(lay, '--dp', flag(lay, '--workers', 1))
      psi = busiest['param_floats']  # the rank's replica: its arena's floats
      f = {'weights': 4 * psi / (D if z >= 3 else 1), 'grads': 4 * psi / (D if z >= 2 else 1),
           'optimizer': 8 * psi / D}
      row['psi'] = psi
      row['formula'] = f
      line += f" | psi {psi:.0f} " + ' '.join(f"{k}/formula {busiest[k] / f[k]:.4f}" for k in f)
    out.append(row)
    print(line, flush=True)
json.dump(out, open('/tmp/plait_memory_kinds.json', 'w'))
