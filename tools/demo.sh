#!/bin/sh
# make demo: the main job on the bundled tiny model — `simpletuner train example=tiny.qwen_image.edit-v2-lora`
# (the tiny model and a synthetic 3-reference edit dataset are set up on first use in
# ${SIMPLETUNER_TINY_DIR:-~/.cache/simpletuner/tiny}), then a validate call with the trained LoRA.
BIN=$(cd "$(dirname "${1:-build/simpletuner}")" && pwd)/$(basename "${1:-build/simpletuner}")
set -e
mkdir -p build/demo
cd build/demo
echo "demo: simpletuner train example=tiny.qwen_image.edit-v2-lora   (in build/demo)"
"$BIN" train example=tiny.qwen_image.edit-v2-lora
DATA=${SIMPLETUNER_TINY_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/simpletuner/tiny}/data/tiny.qwen_image.edit-v2-lora
echo "demo: simpletuner validate example=tiny.qwen_image.edit-v2-lora --image ... (3 references) --prompt ..."
"$BIN" validate example=tiny.qwen_image.edit-v2-lora --image "$DATA/reference_a/pair_0000.png" \
    --image "$DATA/reference_b/pair_0000.png" --image "$DATA/reference_c/pair_0000.png" \
    --prompt "$(cat "$DATA/images/pair_0000.txt")" --output output/tiny.qwen_image.edit-v2-lora/validate.png
echo
echo "demo done (a tiny random-weight model, so the images are noise; the files and numbers are real):"
echo "  LoRA:        build/demo/output/tiny.qwen_image.edit-v2-lora/pytorch_lora_weights.safetensors"
echo "  checkpoints: build/demo/output/tiny.qwen_image.edit-v2-lora/checkpoint-*/"
echo "  validation:  build/demo/output/tiny.qwen_image.edit-v2-lora/validation/step-*/ and validate.png"
echo "  loss log:    build/demo/output/tiny.qwen_image.edit-v2-lora/training_log.jsonl (.csv) and loss_curve.png"
if command -v simpletuner >/dev/null 2>&1; then
    echo "next: simpletuner examples list; simpletuner examples copy qwen_image.edit-v2-lora (real weights)"
else
    echo "next: make install (simpletuner on PATH in /usr/local; PREFIX=DIR for another place), then"
    echo "      simpletuner examples list; simpletuner examples copy qwen_image.edit-v2-lora (real weights)"
    echo "      (or without installing: $BIN examples list)"
fi
