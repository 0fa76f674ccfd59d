#!/usr/bin/env bash
# Runs every test: cmocka unit binaries ($BUILD/tests/test_*), shell tests (tests/sh/test_*.sh, run
# with bash; each sets -euo pipefail itself)
# and one golden check per directory in tests/golden/. Ends with "N passed, N failed, N skipped".
BUILD=${BUILD:-build}
BIN=$BUILD/simpletuner
export BIN BUILD
pass=0; fail=0; skip=0; failed=""
log=$(mktemp)
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$log" 2>&1
    rc=$?
    p=$(grep -c '^ok ' "$log"); f=$(grep -c '^not ok ' "$log")
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    pass=$((pass + p)); fail=$((fail + f))
    if [ "$f" != 0 ]; then failed="$failed $name"; echo "--- $name"; cat "$log"; else echo "ok   $name ($p cases)"; fi
done
for t in tests/sh/test_*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    bash "$t" >"$log" 2>&1
    rc=$?
    if [ $rc = 0 ]; then pass=$((pass + 1)); echo "ok   $name"
    elif [ $rc = 77 ]; then skip=$((skip + 1)); echo "SKIP $name: $(tail -n 1 "$log")"
    else fail=$((fail + 1)); failed="$failed $name"; echo "--- $name (exit $rc)"; tail -n 40 "$log"; fi
done
for d in tests/golden/*/; do
    [ -d "$d" ] || continue
    name=golden/$(basename "$d")
    if "$BIN" run-module "$d" --check >"$log" 2>&1; then pass=$((pass + 1)); echo "ok   $name ($(tail -n 1 "$log"))"
    else fail=$((fail + 1)); failed="$failed $name"; echo "--- $name"; grep -v '^PASS' "$log" | tail -n 40; fi
done
rm -f "$log"
if [ -n "$failed" ]; then echo "failed:$failed"; fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
