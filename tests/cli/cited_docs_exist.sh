#!/bin/sh
# Sources cite only documents that are in the repository: every docs/<name>.md and
# every bare upper-case <NAME>.md (README, ARCHITECTURE...) named in the sources
# (src/, tools/, tests/, bench/) must exist (a bare name at the top or under docs/).
# usage: cited_docs_exist.sh SOURCE_DIR
set -eu
cd "$1"
missing=0
srcs="--include=*.cpp --include=*.h --include=*.cmake --include=*.sh --include=*.py"
for f in $(grep -rhoE $srcs '(docs/[A-Za-z0-9_./-]+|\b[A-Z][A-Z0-9_]*)\.md\b' src tools tests bench | sort -u); do
  case $f in
    docs/*) test -f "$f" ;;
    *) test -f "$f" || test -f "docs/$f" ;;
  esac || { echo "cited but not in the repository: $f ($(grep -rlF $srcs "$f" src tools tests bench | head -3 | tr '\n' ' '))"; missing=1; }
done
test $missing -eq 0 && echo "ok: every cited document exists"
exit $missing
