#!/usr/bin/env bash
# The WebUI end to end in a real browser: Debian's chromium, headless, driven by npm playwright-core
# (tests/browser/webui.js): configuration from the tiny preset (with a validation error shown at its
# field), dataset page, a short training run until the loss chart has >= 3 points and a validation
# sheet shows, then an edit with uploaded references whose result is displayed. Screenshots of each
# page go to $BUILD/test-output/webui/. Skipped (exit 77) only where chromium is not installed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
if [ ! -x /usr/bin/chromium ]; then skip "chromium is not installed (make deps installs Debian's chromium)"; fi
command -v node >/dev/null 2>&1 || fail "node is not installed (make deps installs it)"
rc=0
NPM=$(bash tools/npm_deps.sh) || rc=$?
if [ "$rc" = 3 ]; then skip "the npm registry cannot be reached to install playwright-core"; fi
expect_eq "$rc" 0 "tools/npm_deps.sh"
B=$(st_bin)
# the presets of this checkout, wherever the binary was built (build/san has no ../examples)
export SIMPLETUNER_EXAMPLES_DIR=${SIMPLETUNER_EXAMPLES_DIR:-$(pwd)/examples}
SHOTS=$(cd "$(dirname "$B")" && pwd)/test-output/webui
rm -rf "$SHOTS"
mkdir -p "$SHOTS"
ST_DIR=$(mktemp -d)
SPID=""
cleanup() {
    local r=0
    if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then kill -INT "$SPID"; wait "$SPID" 2>/dev/null || r=$?; fi
    rm -rf "$ST_DIR" "$ST_OUT"
}
trap cleanup EXIT
export SIMPLETUNER_TINY_DIR=$ST_DIR/tiny
mkdir -p "$ST_DIR/root"
"$B" server --root "$ST_DIR/root" --port 0 >"$ST_DIR/server.log" 2>&1 &
SPID=$!
for _ in $(seq 1 100); do
    if grep -q '^simpletuner WebUI: ' "$ST_DIR/server.log"; then break; fi
    sleep 0.1
done
PORT=$(sed -n 's|^simpletuner WebUI: http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$ST_DIR/server.log")
check test -n "$PORT" -- "the server printed its URL"
# a reference image: the synthetic dataset's (made when the configuration is created); a copy made now
expect_ok "$B" make-dataset --kind edit-pairs --out "$ST_DIR/ref" --count 1 --references 1 --size 128x128
ref=$ST_DIR/ref/reference/pair_0000.png
expect_file "$ref"
rc=0
timeout 900 node tests/browser/webui.js "http://127.0.0.1:$PORT/" "$SHOTS" "$ref" "$NPM/node_modules" >"$ST_DIR/browser.log" 2>&1 || rc=$?
cat "$ST_DIR/browser.log"
if [ "$rc" != 0 ]; then tail -n 30 "$ST_DIR/server.log" >&2; fail "the browser test failed (screenshots in $SHOTS)"; fi
expect_grep -F 'browser: ok' "$ST_DIR/browser.log"
expect_file "$SHOTS/configurations.png" "$SHOTS/configuration.png" "$SHOTS/datasets.png" "$SHOTS/training-run.png" "$SHOTS/edit.png"
kill -INT "$SPID"
wait "$SPID"
SPID=""
echo "screenshots: $SHOTS"
