#!/bin/sh
# make bench: runs every benchmark script bench/*.sh (each prints its own figures). $1 = the binary.
BIN=${1:-build/simpletuner}
export BIN
status=0
for b in bench/*.sh; do
    [ "$b" = bench/run.sh ] && continue
    case "$b" in bench/fullsize.sh|bench/train_fullsize.sh) full=1 ;; *) full= ;; esac
    if [ -n "$full" ] && [ -z "${FULLSIZE:-}" ]; then echo "== $b skipped: hours of full-width steps (FULLSIZE=1 runs it)"; continue; fi
    echo "== $b"
    sh "$b" || status=1
done
exit $status
