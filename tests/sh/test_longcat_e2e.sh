#!/usr/bin/env bash
# LongCat-Image-Edit end to end as the Japanese quickstart sets it up: the reference set has neither
# dataset_type nor conditioning_type (treated as reference_strict), int8 base, gradient
# checkpointing; then the quickstart's `simpletuner validate --model_family longcat_image ...`
# picking up config/config.json.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
MODEL=$(pwd)/tests/data/models/longcat_edit
st_workdir
cd "$ST_DIR"
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
run_log cache.log "$BIN" cache --config config/config.json
expect_grep -F "caches: 0 VAE latents reused, 6 computed" cache.log
run_log train.log "$BIN" train --config config/config.json
expect_grep -F "caches: 6 VAE latents reused, 0 computed" train.log
expect_grep -F "peak memory:" train.log
# the reference set without dataset_type/conditioning_type is paired as reference_strict
expect_grep -F 'dataset "ref-images" (data/reference, reference_strict of "edit-images")' train.log
expect_file output/pytorch_lora_weights.safetensors output/validation/step-3/00.png
run_log val.log "$BIN" validate --model_family longcat_image --model_flavour edit --validation_resolution 64x64 \
    --validation_guidance 4.5 --validation_num_inference_steps 2
expect_grep -F "LoRA: output/pytorch_lora_weights.safetensors" val.log
expect_file output/validation/manual/00.png
# in-training validation samples as `validate` (and diffusers) do, one t for every token even though
# LongCat edit training gives the reference tokens t = 0: the step-3 sheet is the validate sheet
expect_same_file output/validation/step-3/00.png output/validation/manual/00.png "in-training validation differs from validate"
# init_lora continues from the trained LoRA: with learning rate 0 the in-training sheet is the trained one
run_log init.log "$BIN" train --config config/config.json output_dir=out_init init_lora=output/pytorch_lora_weights.safetensors \
    learning_rate=0 max_train_steps=1 validation_step_interval=1
expect_grep -F "LoRA initialised from" init.log
expect_same_file out_init/validation/step-1/00.png output/validation/step-3/00.png "init_lora with learning rate 0 renders the trained LoRA"
# a text_embeds dataset (SimpleTuner's layout) chooses where prompt embeddings are cached
sed 's#^\]#, {"id": "text-embeds", "type": "local", "dataset_type": "text_embeds", "default": true, "cache_dir": "cache/text/custom"}]#' \
    config/multidatabackend.json > config/mdb_text.json
run_log cache2.log "$BIN" cache --config config/config.json data_backend_config=config/mdb_text.json
check test -d cache/text/custom/edit-images -- "prompt embeddings in the text_embeds dataset's cache_dir"
echo ok
