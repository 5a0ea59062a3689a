#!/usr/bin/env node
// The reference GPT-2 encoder's speed (npm gpt-3-encoder, scripts/setup.sh puts it in
// .cache/npm) on the same text as `plait bench tokenizer --tokenizer gpt2:...`:
//   node tools/bench_gpt2_reference.js ROUNDS FILE...   -> one JSON line, MB/s per round
const fs = require('fs');
const path = require('path');
const pkg = path.resolve(__dirname, '..', '.cache/npm/node_modules/gpt-3-encoder');
const { encode } = require(pkg);
const rounds = parseInt(process.argv[2], 10);
const files = process.argv.slice(3);
const buf = Buffer.concat(files.map(f => fs.readFileSync(f)));
const text = buf.toString('utf-8');
const mbs = [];
let tokens = 0;
for (let r = 0; r < rounds; r++) {
  const t0 = process.hrtime.bigint();
  tokens = encode(text).length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  mbs.push(buf.length / 1e6 / s);
}
const sorted = [...mbs].sort((a, b) => a - b);
console.log(JSON.stringify({ encoder: 'gpt-3-encoder', node: process.version, bytes: buf.length,
                             tokens, rounds: mbs, mb_per_s: sorted[Math.floor(sorted.length / 2)] }));
