#!/usr/bin/env bash
# longcat_reference_timestep (this program's key, not SimpleTuner's): both values train the tiny
# LongCat edit model end to end, say which scheme they use and train different LoRAs from the same
# data and seed; validation samples with one t for every token either way (the in-training sheet is
# what `validate` renders); the key is refused for qwen_image and for LongCat's text-to-image
# flavours. (tests/unit/test_reference_timestep.c checks the per-token timesteps themselves.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
MODEL=$(pwd)/tests/data/models/longcat_edit
st_workdir
cd "$ST_DIR"
"$BIN" make-dataset --kind edit-pairs --out ds --count 3 --size 64x64 > /dev/null
cat > multidatabackend.json <<JSON
[
  {"id": "edits", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile", "resolution": 64,
   "resolution_type": "pixel_area", "conditioning_data": ["refs"], "cache_dir_vae": "cache/vae/edits"},
  {"id": "refs", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
   "instance_data_dir": "ds/reference", "resolution": 64, "resolution_type": "pixel_area", "cache_dir_vae": "cache/vae/refs"}
]
JSON
cat > config.json <<JSON
{
  "model_type": "lora", "model_family": "longcat_image", "model_flavour": "edit",
  "pretrained_model_name_or_path": "$MODEL", "data_backend_config": "multidatabackend.json",
  "optimizer": "adamw_bf16", "learning_rate": 1e-2, "lr_scheduler": "constant", "max_train_steps": 2,
  "train_batch_size": 1, "lora_rank": 4, "seed": 7, "caption_dropout_probability": 0.0,
  "checkpoint_step_interval": 100, "validation_step_interval": 2, "num_eval_images": 1,
  "validation_resolution": "64x64", "validation_num_inference_steps": 2, "validation_guidance": 4.5,
  "model_kwargs": {"match_target_res": true}
}
JSON
run_log zero.log "$BIN" train --config config.json output_dir=out_zero longcat_reference_timestep=zero
expect_grep -F "longcat_reference_timestep=zero: training gives the reference tokens t = 0 (SimpleTuner's scheme)" zero.log
expect_grep -F "trained 2 steps" zero.log
run_log shared.log "$BIN" train --config config.json output_dir=out_shared longcat_reference_timestep=shared
expect_grep -F "longcat_reference_timestep=shared: training gives the reference tokens the sample's t (as the pipeline samples)" shared.log
expect_grep -F "trained 2 steps" shared.log
# the default is zero for now
run_log default.log "$BIN" train --config config.json output_dir=out_default
expect_grep -F "longcat_reference_timestep=zero:" default.log
expect_same_file out_default/pytorch_lora_weights.safetensors out_zero/pytorch_lora_weights.safetensors "the default trains as zero"
# same data, seed and steps, another conditioning: another LoRA
expect_diff_file out_zero/pytorch_lora_weights.safetensors out_shared/pytorch_lora_weights.safetensors "the schemes train differently"
# validation samples one t for every token whatever the key: the in-training sheet is validate's
for k in zero shared; do
    run_log val_$k.log "$BIN" validate --config config.json output_dir=out_$k longcat_reference_timestep=$k --output val_$k
    expect_same_file out_$k/validation/step-2/00.png val_$k/00.png "$k: in-training validation = validate"
done
# refused where it means nothing
expect_fail -c 2 "$BIN" train --config config.json output_dir=out_t2i model_flavour=final longcat_reference_timestep=shared
expect_grep -F "longcat_reference_timestep applies only to longcat_image flavour edit (this program's option, not SimpleTuner's); model_family=longcat_image model_flavour=final: remove it"
expect_fail -c 2 "$BIN" train --config config.json output_dir=out_qwen model_family=qwen_image model_flavour=edit-v2 longcat_reference_timestep=zero
expect_grep -F "model_family=qwen_image model_flavour=edit-v2: remove it"
expect_fail -c 2 "$BIN" train --config config.json output_dir=out_bad longcat_reference_timestep=mean
expect_grep -F "option 'longcat_reference_timestep' has value 'mean'; expected one of: shared, zero"
echo ok
