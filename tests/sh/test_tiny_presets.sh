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
"$BIN" examples list | grep -q "tiny.qwen_image.edit-v2-lora .*no download"
echo ok
