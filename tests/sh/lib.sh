# lib.sh — helpers for the shell tests (bash). Source it after `set -euo pipefail`:
#   . "$(dirname "$0")/lib.sh"
# Assertions are explicit commands that fail the test with a message; never `! cmd`, `a && b`
# or `cmd || true` as an assertion (under set -e those cannot fail the test).

# The binary under test as an absolute path ($BIN, default build/simpletuner).
st_bin() {
    local b=${BIN:-build/simpletuner}
    echo "$(cd "$(dirname "$b")" && pwd)/$(basename "$b")"
}

fail() { echo "FAIL: $*" >&2; exit 1; }

# check COND-COMMAND... -- MESSAGE: runs the command; fails the test with MESSAGE when it fails.
#   check test -f out.png -- "the sheet is written"
check() {
    local args=() msg
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do args+=("$1"); shift; done
    [ $# -gt 0 ] && shift
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

# expect_grep PATTERN [FILE]: FILE (default $ST_OUT) contains the extended regex PATTERN.
expect_grep() {
    local f=${2:-$ST_OUT}
    grep -qE -- "$1" "$f" || { cat "$f" >&2; fail "expected /$1/ in $f"; }
}

# expect_no_grep PATTERN [FILE]: FILE does not contain PATTERN.
expect_no_grep() {
    local f=${2:-$ST_OUT}
    if grep -qE -- "$1" "$f"; then cat "$f" >&2; fail "unexpected /$1/ in $f"; fi
    return 0
}

# expect_eq A B MESSAGE / expect_ne A B MESSAGE
expect_eq() { [ "$1" = "$2" ] || fail "${3:-values differ}: '$1' != '$2'"; }
expect_ne() { [ "$1" != "$2" ] || fail "${3:-values are equal}: '$1'"; }

# Files equal / different byte for byte.
expect_same_file() { cmp -s "$1" "$2" || fail "${3:-files differ}: $1 $2"; }
expect_diff_file() { if cmp -s "$1" "$2"; then fail "${3:-files are identical}: $1 $2"; fi; return 0; }
