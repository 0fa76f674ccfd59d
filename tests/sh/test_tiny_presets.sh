#!/bin/sh
# Every tiny.* preset trains a few steps and validates with no download (assets created on first use).
set -e
BIN=$(cd "$(dirname "${BIN:-build/simpletuner}")" && pwd)/$(basename "${BIN:-build/simpletuner}")
export SIMPLETUNER_EXAMPLES_DIR=$(pwd)/examples
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
export SIMPLETUNER_TINY_DIR=$d/tiny
cd "$d"
for p in tiny.qwen_image.edit-v1-lora tiny.qwen_image.edit-v2-lora tiny.longcat_image.edit-lora; do
    "$BIN" train example=$p max_train_steps=4 checkpoint_step_interval=4 validation_step_interval=4 \
        validation_num_inference_steps=2 > $p.log 2>&1 || { cat $p.log; exit 1; }
    test -f output/$p/pytorch_lora_weights.safetensors
    test -f output/$p/validation/step-4/00.png
    grep -q "trained 4 steps" $p.log
done
# validation_preview: the predicted clean image of each sampling step beside the validation sheet
"$BIN" train example=tiny.longcat_image.edit-lora max_train_steps=1 validation_step_interval=1 validation_num_inference_steps=2 \
    validation_preview=true validation_preview_steps=1 output_dir=preview > preview.log 2>&1 || { cat preview.log; exit 1; }
test -f preview/validation/step-1/preview/00.step-01.png
test -f preview/validation/step-1/preview/00.step-02.png
# ema_validation: comparison (SimpleTuner's default) renders the trained and the EMA weights, ema_only
# the EMA ones; validation_disable turns validation off
P=tiny.qwen_image.edit-v1-lora
V="max_train_steps=2 validation_step_interval=2 validation_num_inference_steps=1 use_ema=true"
"$BIN" train example=$P $V output_dir=ema_cmp > ema1.log 2>&1 || { cat ema1.log; exit 1; }
test -f ema_cmp/validation/step-2/00.png && test -f ema_cmp/validation/step-2/ema/00.png
"$BIN" train example=$P $V ema_validation=ema_only output_dir=ema_only > ema2.log 2>&1 || { cat ema2.log; exit 1; }
test -f ema_only/validation/step-2/00.png && test ! -e ema_only/validation/step-2/ema
"$BIN" train example=$P $V validation_disable=true output_dir=no_val > ema3.log 2>&1 || { cat ema3.log; exit 1; }
test ! -e no_val/validation && test -f no_val/pytorch_lora_weights.safetensors
"$BIN" examples list | grep -q "tiny.qwen_image.edit-v2-lora .*no download"
echo ok
