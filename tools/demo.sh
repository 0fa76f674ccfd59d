#!/bin/sh
# make demo: the main job on the bundled tiny model — a synthetic edit dataset, LoRA training with
# cached latents and prompt embeddings, checkpoints, validation sheets, then a validate call.
# (Until the tiny.* presets land this uses the tiny Qwen-Image-Edit folder in tests/data/models.)
BIN=$(cd "$(dirname "${1:-build/simpletuner}")" && pwd)/$(basename "${1:-build/simpletuner}")
ROOT=$(pwd)
set -e
D=build/demo
mkdir -p "$D"
cd "$D"
echo "demo: writing a synthetic edit dataset (4 pairs, 128x128) to $D/data"
rm -rf data && "$BIN" make-dataset --kind edit-pairs --out data --count 4 --size 128x128
cat > multidatabackend.json <<JSON
[
  {"id": "edit-images", "type": "local", "instance_data_dir": "data/images", "caption_strategy": "textfile",
   "resolution": 128, "resolution_type": "pixel_area", "conditioning_data": ["reference-images"],
   "cache_dir_vae": "cache/vae/edit-images"},
  {"id": "reference-images", "type": "local", "dataset_type": "conditioning",
   "conditioning_type": "reference_strict", "instance_data_dir": "data/reference", "resolution": 128,
   "cache_dir_vae": "cache/vae/reference-images"}
]
JSON
cat > config.json <<JSON
{
  "model_type": "lora",
  "model_family": "qwen_image",
  "model_flavour": "edit-v1",
  "pretrained_model_name_or_path": "$ROOT/tests/data/models/qwenimage_edit",
  "output_dir": "output",
  "data_backend_config": "multidatabackend.json",
  "lora_rank": 8,
  "optimizer": "adamw_bf16",
  "learning_rate": 1e-3,
  "lr_scheduler": "constant",
  "max_train_steps": 20,
  "num_train_epochs": 0,
  "train_batch_size": 1,
  "checkpoint_step_interval": 10,
  "validation_step_interval": 10,
  "num_eval_images": 1,
  "validation_resolution": "128x128",
  "validation_num_inference_steps": 4,
  "caption_dropout_probability": 0.0,
  "model_kwargs": {"match_target_res": true}
}
JSON
rm -rf output
echo "demo: simpletuner train --config $D/config.json"
"$BIN" train --config config.json
echo "demo: simpletuner validate --config $D/config.json --image data/reference/pair_0000.png --prompt \"$(cat data/images/pair_0000.txt)\""
"$BIN" validate --config config.json --image data/reference/pair_0000.png --prompt "$(cat data/images/pair_0000.txt)" --output output/validate.png
echo
echo "demo done (tiny random-weight model: the images show noise; the numbers and files are real):"
echo "  LoRA:        $D/output/pytorch_lora_weights.safetensors"
echo "  checkpoints: $D/output/checkpoint-10, checkpoint-20"
echo "  validation:  $D/output/validation/step-*/  and $D/output/validate.png"
echo "  loss log:    $D/output/training_log.csv"
