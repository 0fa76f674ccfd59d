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

# the marks tell what each option does here: restricted values, no effect, only the default
run_log "$out" "$BIN" config show --config "$P/qwen_image.peft-lora/config.json" mixed_precision=no
expect_grep '^mixed_precision = "no"  # ignored \(supported: bf16,no\), from command line$' "$out"
expect_grep '^optimizer = "optimi-lion"  # implemented \(supported: adamw_bf16,.*optimi-lion.*\), from ' "$out"
expect_grep '^quantize_activations = false  # default \(other values not supported yet\), from ' "$out"
expect_grep '^report_to = "none"  # default \(other values not supported yet\), from ' "$out"
expect_fail -c 2 "$BIN" config show --config "$P/qwen_image.peft-lora/config.json" mixed_precision=fp16
expect_grep -F "not supported yet: mixed_precision=fp16 (supported: bf16,no; this program computes in f32"


# SimpleTuner's LongCat edit LoKr preset loads (its Hugging Face canny dataset swapped for an edit one)
run_log "$out" "$BIN" config show --config "$P/longcat-image-edit.lycoris-lokr/config.json" --data tests/data/config/longcat_seed/multidatabackend.json
expect_grep '^lora_type = "lycoris"  # implemented \(supported: standard,lycoris\), from ' "$out"
expect_grep -F "lycoris_config = \"$P/longcat-image-edit.lycoris-lokr/lycoris_config.json\"  # implemented" "$out"

expect_fail -c 2 "$BIN" config show --config "$P/qwen_image.peft-lora/config.json" lora_rnak=4
expect_grep -F "error: command line: unknown option 'lora_rnak' (did you mean 'lora_rank'?)"
# this program's own options follow SimpleTuner's, with what they do; typed, scoped to their models
E="$P/longcat-image-edit.lycoris-lokr/config.json --data tests/data/config/longcat_seed/multidatabackend.json"
run_log "$out" "$BIN" config show --config $E
expect_grep '^# options of simpletuner.c \(not SimpleTuner.s\)$' "$out"
expect_grep '^# longcat_reference_timestep \(longcat_image:edit; choices \["shared", "zero"\]\): LongCat edit training' "$out"
expect_grep '^longcat_reference_timestep = "zero"  # default$' "$out"
run_log "$out" "$BIN" config show --config $E longcat_reference_timestep=shared
expect_grep '^longcat_reference_timestep = "shared"  # implemented, from command line$' "$out"
expect_fail -c 2 "$BIN" config show --config $E longcat_reference_timestep=half
expect_grep -F "error: command line: option 'longcat_reference_timestep' has value 'half'; expected one of: shared, zero"
expect_fail -c 2 "$BIN" config show --config $E longcat_referense_timestep=zero
expect_grep -F "did you mean 'longcat_reference_timestep'?"
expect_fail -c 2 "$BIN" config show --config $E model_flavour=final longcat_reference_timestep=zero
expect_grep -F "error: command line: longcat_reference_timestep applies only to longcat_image flavour edit (this program's option, not SimpleTuner's); model_family=longcat_image model_flavour=final: remove it"
expect_fail -c 2 "$BIN" config show --config "$P/qwen_image.peft-lora/config.json" longcat_reference_timestep=shared
expect_grep -F "longcat_reference_timestep applies only to longcat_image flavour edit"
expect_grep -F "model_family=qwen_image"
echo "config show: presets load (lycoris too), typos rejected, own options shown and scoped"
