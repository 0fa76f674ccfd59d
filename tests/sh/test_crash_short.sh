#!/usr/bin/env bash
# The short crash test: the tiny training killed with SIGKILL at 5 moments (while caching, between
# the JSONL and CSV log lines, during validation, while rotation deletes a checkpoint, before the
# final save) and resumed each time ends with the uninterrupted run's LoRA (sha256), logs (each step
# once) and validation sheets, no temp file and no half checkpoint. `make crash-test` runs the full
# version (60+ kills); see tools/crash_test.sh.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
st_workdir
run_log "$ST_DIR/crash.log" bash tools/crash_test.sh --short "$BIN"
expect_grep -F "crash test: 5 kills" "$ST_DIR/crash.log"
expect_grep -F ": ok" "$ST_DIR/crash.log"
cat "$ST_DIR/crash.log"
