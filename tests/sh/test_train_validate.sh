#!/usr/bin/env bash
# End to end on a real model folder (tiny random weights): train a LoRA with checkpoints and
# validation sheets, resume from the latest checkpoint, validate with flags, and the errors a user
# meets first (missing pairs, unknown keys).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
MODEL=$(pwd)/tests/data/models/qwenimage_edit
st_workdir
cd "$ST_DIR"
export OMP_NUM_THREADS=2
"$BIN" make-dataset --kind edit-pairs --out ds --count 3 --size 64x64 > /dev/null
cat > multidatabackend.json <<JSON
[
  {"id": "edits", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile",
   "resolution": 64, "resolution_type": "pixel_area", "conditioning_data": ["refs"], "cache_dir_vae": "cache/vae/edits"},
  {"id": "refs", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
   "instance_data_dir": "ds/reference", "resolution": 64, "cache_dir_vae": "cache/vae/refs"}
]
JSON
cat > config.json <<JSON
{
  // comments are allowed, as in the quickstarts
  "model_type": "lora", "model_family": "qwen_image", "model_flavour": "edit-v1",
  "pretrained_model_name_or_path": "$MODEL",
  "output_dir": "out", "data_backend_config": "multidatabackend.json",
  "optimizer": "adamw_bf16", "learning_rate": 1e-3, "lr_scheduler": "constant",
  "max_train_steps": 4, "num_train_epochs": 0, "train_batch_size": 1, "lora_rank": 4, "seed": 3,
  "validation_step_interval": 2, "num_eval_images": 1, "validation_resolution": "64x64",
  "validation_num_inference_steps": 2, "checkpoint_step_interval": 2, "caption_dropout_probability": 0.0,
  "model_kwargs": {"match_target_res": true}
}
JSON
run_log train.log "$BIN" train --config config.json
expect_file out/pytorch_lora_weights.safetensors out/checkpoint-2/pytorch_lora_weights.safetensors out/checkpoint-4/training_state.json
expect_eq "$(wc -l < out/training_log.csv)" 5 "CSV lines (header + 4 steps)"
expect_file out/validation/step-0/00.png out/validation/step-4/00.png
expect_grep -F "caches: 0 VAE latents reused, 6 computed" train.log
# edit-v1 prepares each reference for the text encoder once (the conditioning_image_embeds cache)
expect_grep "conditioning image embeds \(.*conditioning_image_embeds\): 0 reused, 3 computed" train.log
# the in-training sheet of the last step is what `validate` renders with the saved LoRA
run_log vsheets.log "$BIN" validate --config config.json --output vsheets
expect_same_file out/validation/step-4/00.png vsheets/00.png "in-training sheet = validate's"
expect_file out/loss_curve.png
# resume continues from the latest checkpoint and reuses every cache entry
run_log resume.log "$BIN" train --config config.json max_train_steps=6 resume_from_checkpoint=latest
expect_grep -F "resumed from out/checkpoint-4" resume.log
expect_grep -F "caches: 6 VAE latents reused, 0 computed; 3 prompt embeddings reused, 0 computed" resume.log
expect_grep "conditioning image embeds \(.*\): 3 reused, 0 computed" resume.log
expect_eq "$(wc -l < out/training_log.csv)" 7 "CSV lines after the resume"
# init_lora: training starts from a LoRA file (with learning rate 0 it ends where it started); a rank
# that does not match is an error naming init_lora
run_log init.log "$BIN" train --config config.json output_dir=out_init init_lora=out/pytorch_lora_weights.safetensors learning_rate=0 \
    max_train_steps=1 num_eval_images=0
expect_grep -F "LoRA initialised from out/pytorch_lora_weights.safetensors" init.log
V=(validate --config config.json --image ds/reference/pair_0000.png --prompt "make it red")
expect_ok "$BIN" "${V[@]}" --seed 1 --lora out/pytorch_lora_weights.safetensors --output i1.png
expect_ok "$BIN" "${V[@]}" --seed 1 --lora out_init/pytorch_lora_weights.safetensors --output i2.png
expect_same_file i1.png i2.png "init_lora with learning rate 0 keeps the LoRA"
expect_fail -c 2 "$BIN" train --config config.json output_dir=out_init2 init_lora=out/pytorch_lora_weights.safetensors lora_rank=8
expect_grep "init_lora .*rank 4.*lora_rank"
# text_encoder_1_precision quantises the text encoder; its embeddings are cached under their own identity
run_log teq.log "$BIN" cache --config config.json text_encoder_1_precision=int8-quanto
expect_grep -F "quantising the text encoder to int8" teq.log
expect_no_grep -F "3 prompt embeddings reused, 0 computed" teq.log
expect_grep -F "0 prompt embeddings reused, 3 computed" teq.log
# validate with flags: requested size, same seed same pixels, other seed other pixels
expect_ok "$BIN" "${V[@]}" --seed 1 --output a.png
expect_ok "$BIN" "${V[@]}" --seed 1 --output b.png
expect_ok "$BIN" "${V[@]}" --seed 2 --output c.png
expect_same_file a.png b.png "same seed, same pixels"
expect_diff_file a.png c.png "another seed gives another image"
file a.png > a.type
expect_grep -F "64 x 64" a.type
# a LoRA with B = 0 (lora_scale 0) renders exactly the base model
expect_ok "$BIN" "${V[@]}" --seed 1 --lora_scale 0 --output z.png
mv out/pytorch_lora_weights.safetensors lora.safetensors; mv out keep_out
run_log base.log "$BIN" "${V[@]}" --seed 1 --output base.png
expect_grep -F "validating the base model" base.log
expect_same_file z.png base.png "lora_scale 0 renders the base model"
expect_diff_file a.png base.png "a LoRA changes the output"
mv keep_out out
# text-to-image through the base flavour, and an edit flavour asking for its reference
expect_ok "$BIN" validate --config config.json model_flavour=v1.0 --prompt "a red square" --output t2i.png
file t2i.png > t2i.type
expect_grep -F "64 x 64" t2i.type
expect_fail -c 2 "$BIN" validate --config config.json --prompt "make it red" --output x.png
expect_grep -F "give --image REF"
expect_fail -c 2 "$BIN" validate --config config.json --image ds/reference/pair_0000.png --prompt p --seed abc
expect_grep -F "seed expects a non-negative integer, got 'abc'"
expect_fail -c 2 "$BIN" validate --config config.json --image ds/reference/pair_0000.png --prompt p --lora_scale
expect_grep -F "lora_scale needs a value"
# errors: a missing reference pair, an unknown key
rm ds/reference/pair_0002.png
expect_fail "$BIN" train --config config.json output_dir=out2
expect_grep -F "pair_0002.png"
expect_fail -c 2 "$BIN" train --config config.json lora_rnak=4
expect_grep -F "did you mean 'lora_rank'"
echo ok
