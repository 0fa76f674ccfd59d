# lib.sh — helpers for the shell tests (bash). Source it after `set -euo pipefail`:
#   . "$(dirname "$0")/lib.sh"
# Assertions are explicit commands that fail the test with a message; never `! cmd`, `a && b`
# or `cmd || true` as an assertion (under set -e those cannot fail the test). tests/lint_shell.sh
# (run by test_shell_lint.sh) rejects those forms in tests/sh/*.sh.

# The binary under test as an absolute path ($BIN, default build/simpletuner).
st_bin() {
    local b=${BIN:-build/simpletuner}
    echo "$(cd "$(dirname "$b")" && pwd)/$(basename "$b")"
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# skip REASON: the test cannot run here (exit 77, counted as skipped by tests/run.sh).
skip() { echo "SKIPPED: $*"; exit 77; }

# check COND-COMMAND... -- MESSAGE: runs the command; fails the test with MESSAGE when it fails.
#   check test -f out.png -- "the sheet is written"
check() {
    local args=() msg
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
    if [ $# -gt 0 ]; then shift; fi
    msg=${*:-${args[*]}}
    "${args[@]}" || fail "$msg"
}

# expect_fail [-c CODE] CMD...: the command must fail (with exit code CODE when given); its
# output goes to $ST_OUT (a file) for later greps.
ST_OUT=${ST_OUT:-$(mktemp)}
expect_fail() {
    local code=""
    if [ "${1:-}" = "-c" ]; then code=$2; shift 2; fi
    local rc=0
    "$@" >"$ST_OUT" 2>&1 || rc=$?
    if [ "$rc" = 0 ]; then cat "$ST_OUT" >&2; fail "expected failure: $*"; fi
    if [ -n "$code" ] && [ "$rc" != "$code" ]; then cat "$ST_OUT" >&2; fail "expected exit $code, got $rc: $*"; fi
    return 0
}

# expect_ok CMD...: the command must succeed; output to $ST_OUT (printed when it fails).
expect_ok() {
    local rc=0
    "$@" >"$ST_OUT" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then cat "$ST_OUT" >&2; fail "exit $rc: $*"; fi
    return 0
}

# run_log LOG CMD...: the command must succeed; its output goes to LOG (printed when it fails).
run_log() {
    local log=$1 rc=0
    shift
    "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then cat "$log" >&2; fail "exit $rc: $*"; fi
    return 0
}

# expect_grep [-F] [-i] PATTERN [FILE]: FILE (default $ST_OUT) contains the extended regex PATTERN
# (-F: the fixed string; -i: ignoring case). A file that cannot be read fails the test.
expect_grep() {
    local opts=(-E)
    while [ "${1:-}" = "-F" ] || [ "${1:-}" = "-i" ]; do
        if [ "$1" = "-F" ]; then opts[0]=-F; else opts+=(-i); fi
        shift
    done
    local f=${2:-$ST_OUT} rc=0
    grep -q "${opts[@]}" -- "$1" "$f" || rc=$?
    if [ "$rc" = 1 ]; then cat "$f" >&2; fail "expected /$1/ in $f"; fi
    if [ "$rc" != 0 ]; then fail "grep $1 $f: exit $rc"; fi
    return 0
}

# expect_no_grep [-F] [-i] PATTERN [FILE]: FILE does not contain PATTERN.
expect_no_grep() {
    local opts=(-E)
    while [ "${1:-}" = "-F" ] || [ "${1:-}" = "-i" ]; do
        if [ "$1" = "-F" ]; then opts[0]=-F; else opts+=(-i); fi
        shift
    done
    local f=${2:-$ST_OUT} rc=0
    grep -q "${opts[@]}" -- "$1" "$f" || rc=$?
    if [ "$rc" = 0 ]; then cat "$f" >&2; fail "unexpected /$1/ in $f"; fi
    if [ "$rc" != 1 ]; then fail "grep $1 $f: exit $rc"; fi
    return 0
}

# expect_eq A B MESSAGE / expect_ne A B MESSAGE
expect_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: '$1' != '$2'"; }
expect_ne() { [ "$1" != "$2" ] || fail "${3:-values are equal}: '$1'"; }

# expect_file PATH...: each is a regular file. expect_no_path PATH...: none exists.
expect_file() { local p; for p in "$@"; do [ -f "$p" ] || fail "missing file $p"; done; }
expect_no_path() { local p; for p in "$@"; do if [ -e "$p" ] || [ -L "$p" ]; then fail "unexpected $p"; fi; done; return 0; }

# Files equal / different byte for byte.
expect_same_file() { cmp -s "$1" "$2" || fail "${3:-files differ}: $1 $2"; }
expect_diff_file() { if cmp -s "$1" "$2"; then fail "${3:-files are identical}: $1 $2"; fi; return 0; }

# st_workdir: a fresh temp directory in $ST_DIR, removed (with $ST_OUT) when the test exits.
st_workdir() {
    ST_DIR=$(mktemp -d)
    trap 'rm -rf "$ST_DIR" "$ST_OUT"' EXIT
}
