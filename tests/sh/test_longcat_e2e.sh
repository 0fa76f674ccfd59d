#!/bin/sh
# LongCat-Image-Edit end to end as the Japanese quickstart sets it up: the reference set has neither
# dataset_type nor conditioning_type (treated as reference_strict), int8 base, gradient
# checkpointing; then the quickstart's `simpletuner validate --model_family longcat_image ...`
# picking up config/config.json.
set -e
BIN=$(cd "$(dirname "${BIN:-build/simpletuner}")" && pwd)/$(basename "${BIN:-build/simpletuner}")
MODEL=$(pwd)/tests/data/models/longcat_edit
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
cd "$d"
"$BIN" make-dataset --kind edit-pairs --out data --count 3 --size 64x64 > /dev/null
mkdir -p config
cat > config/multidatabackend.json <<JSON
[
  {"id": "edit-images", "type": "local", "instance_data_dir": "data/images", "caption_strategy": "textfile",
   "resolution": 64, "cache_dir_vae": "cache/vae/longcat/edit", "conditioning_data": ["ref-images"]},
  {"id": "ref-images", "type": "local", "instance_data_dir": "data/reference", "caption_strategy": null,
   "resolution": 64, "cache_dir_vae": "cache/vae/longcat/ref"}
]
JSON
cat > config/config.json <<JSON
{
  "model_type": "lora",
  "model_family": "longcat_image",
  "model_flavour": "edit",
  "pretrained_model_name_or_path": "$MODEL",
  "base_model_precision": "int8-quanto",      // fp8-torchao also fine
  "train_batch_size": 1,
  "gradient_checkpointing": true,
  "learning_rate": 5e-5,
  "validation_guidance": 4.5,
  "validation_num_inference_steps": 2,
  "validation_resolution": "64x64",
  "output_dir": "output", "data_backend_config": "config/multidatabackend.json",
  "optimizer": "adamw_bf16", "max_train_steps": 3, "checkpoint_step_interval": 3,
  "validation_step_interval": 3, "num_eval_images": 1, "lora_rank": 4,
  "model_kwargs": {"match_target_res": true}
}
JSON
"$BIN" cache --config config/config.json > cache.log 2>&1 || { cat cache.log; exit 1; }
grep -q "caches: 0 VAE latents reused, 6 computed" cache.log
"$BIN" train --config config/config.json > train.log 2>&1 || { cat train.log; exit 1; }
grep -q "caches: 6 VAE latents reused, 0 computed" train.log
grep -q "peak memory:" train.log
grep -q "treated as reference_strict\|reference_strict" train.log || true
test -f output/pytorch_lora_weights.safetensors && test -f output/validation/step-3/00.png
"$BIN" validate --model_family longcat_image --model_flavour edit --validation_resolution 64x64 \
    --validation_guidance 4.5 --validation_num_inference_steps 2 > val.log 2>&1 || { cat val.log; exit 1; }
grep -q "LoRA: output/pytorch_lora_weights.safetensors" val.log
test -f output/validation/manual/00.png
# in-training validation samples as `validate` (and diffusers) do, one t for every token even though
# LongCat edit training gives the reference tokens t = 0: the step-3 sheet is the validate sheet
cmp output/validation/step-3/00.png output/validation/manual/00.png || { echo "in-training validation differs from validate"; exit 1; }
# init_lora continues from the trained LoRA: with learning rate 0 the in-training sheet is the trained one
"$BIN" train --config config/config.json output_dir=out_init init_lora=output/pytorch_lora_weights.safetensors \
    learning_rate=0 max_train_steps=1 validation_step_interval=1 > init.log 2>&1 || { cat init.log; exit 1; }
grep -q "LoRA initialised from" init.log
cmp out_init/validation/step-1/00.png output/validation/step-3/00.png
# a text_embeds dataset (SimpleTuner's layout) chooses where prompt embeddings are cached
sed 's#^\]#, {"id": "text-embeds", "type": "local", "dataset_type": "text_embeds", "default": true, "cache_dir": "cache/text/custom"}]#' \
    config/multidatabackend.json > config/mdb_text.json
"$BIN" cache --config config/config.json data_backend_config=config/mdb_text.json > cache2.log 2>&1 || { cat cache2.log; exit 1; }
test -d cache/text/custom/edit-images
echo ok
