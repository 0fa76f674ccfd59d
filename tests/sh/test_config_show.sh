#!/usr/bin/env bash
# `simpletuner config show` on SimpleTuner's example presets (paths adapted): exit codes and marks.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
P=tests/data/config/presets
st_workdir
out=$ST_DIR/out; err=$ST_DIR/err

run_log "$out" "$BIN" config --help
expect_grep -F "simpletuner config show" "$out"

for preset in qwen_image.peft-lora longcat-image.peft-lora; do
    "$BIN" config show --config "$P/$preset/config.json" >"$out" 2>"$err" || { cat "$err"; fail "$preset: exit $?"; }
    expect_grep '^model_type = "lora"  # implemented, from ' "$out"
    expect_grep '^hub_model_id = ".*"  # ignored, from ' "$out"
    expect_grep '^use_dora = false  # default$' "$out"
    expect_grep '^dataset dreambooth-' "$out"
    expect_grep '^ignored, no effect here: .*hub_model_id' "$err"
done
expect_grep '^flow_schedule_shift = 0  # implemented' "$out"

expect_fail -c 2 "$BIN" config show --config "$P/longcat-image-edit.lycoris-lokr/config.json"
expect_grep -F "error: $P/longcat-image-edit.lycoris-lokr/config.json: not supported yet: lora_type=lycoris"

expect_fail -c 2 "$BIN" config show --config "$P/qwen_image.peft-lora/config.json" lora_rnak=4
expect_grep -F "error: command line: unknown option 'lora_rnak' (did you mean 'lora_rank'?)"
echo "config show: presets load, lycoris and typos rejected"
