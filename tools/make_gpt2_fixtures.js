#!/usr/bin/env node
// Makes tests/fixtures/gpt2_bpe_cases.json: strings and the ids that the reference
// GPT-2 encoder (npm package gpt-3-encoder, MIT; scripts/setup.sh installs it into
// .cache/npm) gives them. tests/data/gpt2_bpe_test.cpp checks plait's encoder against
// every case. Deterministic: the same file on every run.
//
//   node tools/make_gpt2_fixtures.js [.cache/npm/node_modules/gpt-3-encoder] [OUT]
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const pkg = path.resolve(process.argv[2] || path.join(root, '.cache/npm/node_modules/gpt-3-encoder'));
const out = process.argv[3] || path.join(root, 'tests/fixtures/gpt2_bpe_cases.json');
const { encode, decode } = require(pkg);

// xorshift32: reproducible choices
let state = 2463534242;
function rnd(n) {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state % n;
}
const pick = a => a[rnd(a.length)];

const handmade = [
  '', ' ', '  ', '\n', '\n\n', ' \n', '\t\t x', 'Hello world', ' Hello  world ',
  "I'm here, you're there; we'll see. It's theirs'd've", "'s 't 're 've 'm 'll 'd",
  "DON'T 'S 'Re", "''s ''' '", 'x   y    z', 'a\u00a0b', 'tab\there', 'end   ',
  '1234567890', '3.14159 2,718 1e-9 -42', '٣٤٥ ௰ Ⅻ ½', 'naïve café résumé',
  'Ελληνικά κείμενα', 'Русский текст здесь', '中文字符测试', '日本語のテキスト',
  '한국어 텍스트', 'emoji 😀😃😄 👩‍👩‍👧‍👦 🇬🇧', 'mixed123abc!!!???', '<|endoftext|>',
  'http://example.com/a?b=c&d=e', 'foo@bar.com', '    indented code\n        more',
  'line1\r\nline2\r\n', '\u2028\u2029\ufeff', '\u3000ideographic space', 'ﬁ ligature',
  'Ω≈ç√∫˜µ≤≥÷', '(parens) [brackets] {braces}', '$$$ ### @@@', '...', '—–-', '\u200b',
];

const pools = {
  ascii: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
  punct: ".,;:!?'\"()[]{}-_/\\@#$%^&*+=<>|~`",
  space: [' ', ' ', ' ', '  ', '\n', '\t', '\r\n', '   ', '\u00a0', '\u3000'],
  uni: ['é', 'ß', 'ø', 'Ж', 'λ', '中', '日', 'の', '한', 'ا', 'ע', '😀', '🎉', '½', '²', '٣', 'Ⅻ', '\u0301'],
  words: ["the", "The", " of", "and", "don't", "it's", "I'll", "we've", "they're", "she'd",
          "2024", "3.5", "GPT", "tokenizer", "naïve", "über", "Straße", "東京", "μ", "x"],
};

function randomString() {
  const parts = [];
  const n = 1 + rnd(12);
  for (let i = 0; i < n; i++) {
    switch (rnd(6)) {
      case 0: parts.push(pick(pools.words)); break;
      case 1: { let s = ''; for (let k = 1 + rnd(8); k > 0; k--) s += pick(pools.ascii); parts.push(s); break; }
      case 2: parts.push(pick(pools.space)); break;
      case 3: { let s = ''; for (let k = 1 + rnd(3); k > 0; k--) s += pick(pools.punct); parts.push(s); break; }
      case 4: parts.push(pick(pools.uni)); break;
      default: parts.push(' ' + pick(pools.words));
    }
  }
  return parts.join('');
}

// Real text: lines of Debian's fortunes corpus, when installed.
function fortuneLines(limit) {
  const dir = '/usr/share/games/fortunes';
  if (!fs.existsSync(dir)) return [];
  const files = fs.readdirSync(dir).filter(f => !f.endsWith('.dat') && !f.endsWith('.u8')).sort();
  const lines = [];
  for (const f of files) {
    const p = path.join(dir, f);
    if (!fs.statSync(p).isFile()) continue;
    const text = fs.readFileSync(p, 'utf-8').split('\n%\n');
    for (let i = 0; i < text.length && lines.length < limit; i += 97) lines.push(text[i]);
  }
  return lines;
}

const texts = [...handmade];
for (let i = 0; i < 900; i++) texts.push(randomString());
texts.push(...fortuneLines(300));
const cases = texts.map(text => {
  const ids = encode(text);
  if (decode(ids) !== text) throw new Error('reference does not round-trip: ' + JSON.stringify(text));
  return { text, ids };
});
fs.writeFileSync(out, JSON.stringify({
  generator: 'tools/make_gpt2_fixtures.js with npm gpt-3-encoder@' +
             require(path.join(pkg, 'package.json')).version,
  cases,
}) + '\n');
console.log(`wrote ${cases.length} cases to ${out}`);
