#!/usr/bin/env bash
# Every tiny.* preset trains a few steps and validates with no download (assets created on first use).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
export SIMPLETUNER_EXAMPLES_DIR=$(pwd)/examples
st_workdir
d=$ST_DIR
export SIMPLETUNER_TINY_DIR=$d/tiny
cd "$d"
for p in tiny.qwen_image.edit-v1-lora tiny.qwen_image.edit-v2-lora tiny.longcat_image.edit-lora; do
    "$BIN" train example=$p max_train_steps=4 checkpoint_step_interval=4 validation_step_interval=4 \
        validation_num_inference_steps=2 > $p.log 2>&1 || { cat $p.log; fail "$p"; }
    expect_file output/$p/pytorch_lora_weights.safetensors output/$p/validation/step-4/00.png
    expect_grep -F "trained 4 steps" $p.log
done
# validation_preview: the predicted clean image of each sampling step beside the validation sheet
"$BIN" train example=tiny.longcat_image.edit-lora max_train_steps=1 validation_step_interval=1 validation_num_inference_steps=2 \
    validation_preview=true validation_preview_steps=1 output_dir=preview > preview.log 2>&1 || { cat preview.log; fail "preview"; }
expect_file preview/validation/step-1/preview/00.step-01.png preview/validation/step-1/preview/00.step-02.png
# ema_validation: comparison (SimpleTuner's default) renders the trained and the EMA weights, ema_only
# the EMA ones; validation_disable turns validation off
P=tiny.qwen_image.edit-v1-lora
V="max_train_steps=2 validation_step_interval=2 validation_num_inference_steps=2 use_ema=true"
run_log ema1.log "$BIN" train example=$P $V output_dir=ema_cmp
expect_file ema_cmp/validation/step-2/00.png ema_cmp/validation/step-2/ema/00.png
run_log ema2.log "$BIN" train example=$P $V ema_validation=ema_only output_dir=ema_only
expect_file ema_only/validation/step-2/00.png
expect_no_path ema_only/validation/step-2/ema
expect_same_file ema_only/validation/step-2/00.png ema_cmp/validation/step-2/ema/00.png "ema_only renders the EMA weights"
run_log ema3.log "$BIN" train example=$P $V validation_disable=true output_dir=no_val
expect_no_path no_val/validation
expect_file no_val/pytorch_lora_weights.safetensors
run_log list.txt "$BIN" examples list
expect_grep "tiny.qwen_image.edit-v2-lora .*no download" list.txt
echo ok
