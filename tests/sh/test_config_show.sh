#!/bin/sh
# `simpletuner config show` on SimpleTuner's example presets (paths adapted): exit codes and marks.
set -u
BIN=${BIN:-build/simpletuner}
P=tests/data/config/presets
out=$(mktemp); err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
fail() { echo "FAIL: $*"; echo "--- stdout"; head -20 "$out"; echo "--- stderr"; cat "$err"; exit 1; }

"$BIN" config --help >"$out" 2>"$err" || fail "config --help exit $?"
grep -q "simpletuner config show" "$out" || fail "help text"

for preset in qwen_image.peft-lora longcat-image.peft-lora; do
    "$BIN" config show --config "$P/$preset/config.json" >"$out" 2>"$err" || fail "$preset: exit $?"
    grep -q '^model_type = "lora"  # implemented, from ' "$out" || fail "$preset: model_type mark"
    grep -q '^hub_model_id = ".*"  # ignored, from ' "$out" || fail "$preset: hub_model_id mark"
    grep -q '^use_dora = false  # default$' "$out" || fail "$preset: use_dora default"
    grep -q '^dataset dreambooth-' "$out" || fail "$preset: datasets"
    grep -q '^ignored, no effect here: .*hub_model_id' "$err" || fail "$preset: ignored log"
done
grep -q '^flow_schedule_shift = 0  # implemented' "$out" || fail "auto shift rule"

"$BIN" config show --config "$P/longcat-image-edit.lycoris-lokr/config.json" >"$out" 2>"$err"
rc=$?
[ $rc = 2 ] || fail "lycoris preset: exit $rc, expected 2"
grep -q "error: $P/longcat-image-edit.lycoris-lokr/config.json: not supported yet: lora_type=lycoris" "$err" || fail "lycoris message"

"$BIN" config show --config "$P/qwen_image.peft-lora/config.json" lora_rnak=4 >"$out" 2>"$err"
rc=$?
[ $rc = 2 ] || fail "typo: exit $rc"
grep -q "error: command line: unknown option 'lora_rnak' (did you mean 'lora_rank'?)" "$err" || fail "typo message"
echo "config show: presets load, lycoris and typos rejected"
