#!/usr/bin/env bash
# Settings refused before any work, naming the key (issue 18 items 4, 11, 14): a dataset's
# resolution out of range, model_type=full with a quantised base; a validation size that is not a
# multiple of 16 is floored as the pipelines do, with a warning saying so.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
MODEL=$(pwd)/tests/data/models/qwenimage_edit
st_workdir
cd "$ST_DIR"
# the tiny edit weights as an edit-v2 (QwenImageEditPlusPipeline) folder
st_model_copy "$MODEL" model_v2 QwenImageEditPlusPipeline
MODEL=$ST_DIR/model_v2
export OMP_NUM_THREADS=2
"$BIN" make-dataset --kind edit-pairs --out ds --count 2 --size 64x64 > /dev/null
backend() {
    cat > multidatabackend.json <<JSON
[
  {"id": "edits", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile",
   "resolution": $1, "resolution_type": "pixel_area", "conditioning_data": ["refs"], "cache_dir_vae": "cache/vae/edits"},
  {"id": "refs", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
   "instance_data_dir": "ds/reference", "resolution": 64, "cache_dir_vae": "cache/vae/refs"}
]
JSON
}
cat > config.json <<JSON
{"model_type": "lora", "model_family": "qwen_image", "model_flavour": "edit-v2", "pretrained_model_name_or_path": "$MODEL",
 "output_dir": "out", "data_backend_config": "multidatabackend.json", "optimizer": "adamw_bf16", "seed": 3,
 "train_batch_size": 1, "max_train_steps": 1, "validation_disable": true, "caption_dropout_probability": 0.0}
JSON

backend 1e9
expect_fail -c 2 "$BIN" train --config config.json
expect_grep -F "dataset 'edits'"
expect_grep -F 'resolution'
expect_grep -F '(0, 16384]'
expect_no_grep -i 'out of memory'

backend 64
expect_fail -c 2 "$BIN" train --config config.json model_type=full base_model_precision=int8-quanto
expect_grep -F 'base_model_precision=int8-quanto'
expect_grep -F 'model_type=full'

# 72x40 is no multiple of 16: rendered at 64x32, and said
expect_ok "$BIN" validate --config config.json --image ds/reference/pair_0000.png --prompt "make it blue" \
    validation_resolution=72x40 validation_num_inference_steps=2 --output v.png
expect_grep -F 'validation_resolution 72x40 is not a multiple of 16: rendering 64x32'
expect_grep -F 'wrote v.png (64x32)'
# a comma list renders every size
expect_ok "$BIN" validate --config config.json --image ds/reference/pair_0000.png --prompt "make it blue" \
    validation_resolution=64x64,32x48 validation_num_inference_steps=2 --output w.png
expect_file w.png w_32x48.png
echo "config errors ok"
