#!/bin/sh
# End to end on a real model folder (tiny random weights): train a LoRA with checkpoints and
# validation sheets, resume from the latest checkpoint, validate with flags, and the errors a user
# meets first (missing pairs, unknown keys).
set -e
BIN=$(cd "$(dirname "${BIN:-build/simpletuner}")" && pwd)/$(basename "${BIN:-build/simpletuner}")
MODEL=$(pwd)/tests/data/models/qwenimage_edit
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
cd "$d"
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
"$BIN" train --config config.json > train.log 2>&1 || { cat train.log; exit 1; }
test -f out/pytorch_lora_weights.safetensors
test -f out/checkpoint-2/pytorch_lora_weights.safetensors && test -f out/checkpoint-4/training_state.json
test "$(wc -l < out/training_log.csv)" = 5
test -f out/validation/step-0/00.png && test -f out/validation/step-4/00.png
grep -q "caches: 0 VAE latents reused, 6 computed" train.log
# edit-v1 prepares each reference for the text encoder once (the conditioning_image_embeds cache)
grep -q "conditioning image embeds (.*conditioning_image_embeds): 0 reused, 3 computed" train.log || { cat train.log; exit 1; }
# the in-training sheet of the last step is what `validate` renders with the saved LoRA
"$BIN" validate --config config.json --output vsheets > vsheets.log 2>&1 || { cat vsheets.log; exit 1; }
cmp out/validation/step-4/00.png vsheets/00.png
test -f out/loss_curve.png
# resume continues from the latest checkpoint and reuses every cache entry
"$BIN" train --config config.json max_train_steps=6 resume_from_checkpoint=latest > resume.log 2>&1 || { cat resume.log; exit 1; }
grep -q "resumed from out/checkpoint-4" resume.log
grep -q "caches: 6 VAE latents reused, 0 computed; 3 prompt embeddings reused, 0 computed" resume.log
grep -q "conditioning image embeds (.*): 3 reused, 0 computed" resume.log
test "$(wc -l < out/training_log.csv)" = 7
# init_lora: training starts from a LoRA file (with learning rate 0 it ends where it started); a rank
# that does not match is an error naming init_lora
"$BIN" train --config config.json output_dir=out_init init_lora=out/pytorch_lora_weights.safetensors learning_rate=0 \
    max_train_steps=1 num_eval_images=0 > init.log 2>&1 || { cat init.log; exit 1; }
grep -q "LoRA initialised from out/pytorch_lora_weights.safetensors" init.log
"$BIN" validate --config config.json --image ds/reference/pair_0000.png --prompt "make it red" --seed 1 --lora out/pytorch_lora_weights.safetensors --output i1.png > /dev/null 2>&1
"$BIN" validate --config config.json --image ds/reference/pair_0000.png --prompt "make it red" --seed 1 --lora out_init/pytorch_lora_weights.safetensors --output i2.png > /dev/null 2>&1
cmp i1.png i2.png
set +e
"$BIN" train --config config.json output_dir=out_init2 init_lora=out/pytorch_lora_weights.safetensors lora_rank=8 > init2.log 2>&1; rc=$?
set -e
test $rc = 2 && grep -q "init_lora .*rank 4.*lora_rank" init2.log || { cat init2.log; exit 1; }
# text_encoder_1_precision quantises the text encoder; its embeddings are cached under their own identity
"$BIN" cache --config config.json text_encoder_1_precision=int8-quanto > teq.log 2>&1 || { cat teq.log; exit 1; }
grep -q "quantising the text encoder to int8" teq.log
grep -q "3 prompt embeddings reused, 0 computed" teq.log && { echo "int8 text encoder reused the bf16 embeddings"; exit 1; }
grep -q "0 prompt embeddings reused, 3 computed" teq.log
# validate with flags: requested size, same seed same pixels, other seed other pixels
"$BIN" validate --config config.json --image ds/reference/pair_0000.png --prompt "make it red" --seed 1 --output a.png > /dev/null 2>&1
"$BIN" validate --config config.json --image ds/reference/pair_0000.png --prompt "make it red" --seed 1 --output b.png > /dev/null 2>&1
"$BIN" validate --config config.json --image ds/reference/pair_0000.png --prompt "make it red" --seed 2 --output c.png > /dev/null 2>&1
cmp a.png b.png
! cmp -s a.png c.png
file a.png | grep -q "64 x 64"
# a LoRA with B = 0 (lora_scale 0) renders exactly the base model
"$BIN" validate --config config.json --image ds/reference/pair_0000.png --prompt "make it red" --seed 1 --lora_scale 0 --output z.png > /dev/null 2>&1
mv out/pytorch_lora_weights.safetensors lora.safetensors; mv out keep_out
"$BIN" validate --config config.json --image ds/reference/pair_0000.png --prompt "make it red" --seed 1 --output base.png > base.log 2>&1
grep -q "validating the base model" base.log
cmp z.png base.png
! cmp -s a.png base.png
mv keep_out out
# text-to-image through the base flavour, and an edit flavour asking for its reference
"$BIN" validate --config config.json model_flavour=v1.0 --prompt "a red square" --output t2i.png > /dev/null 2>&1
file t2i.png | grep -q "64 x 64"
set +e
"$BIN" validate --config config.json --prompt "make it red" --output x.png > err0.log 2>&1; rc=$?
set -e
test $rc = 2 && grep -q "give --image REF" err0.log
set +e
"$BIN" validate --config config.json --image ds/reference/pair_0000.png --prompt p --seed abc > err1.log 2>&1; rc=$?
"$BIN" validate --config config.json --image ds/reference/pair_0000.png --prompt p --lora_scale > err1b.log 2>&1; rc2=$?
set -e
test $rc = 2 && grep -q "seed expects a non-negative integer, got 'abc'" err1.log
test $rc2 = 2 && grep -q "lora_scale needs a value" err1b.log
# errors: a missing reference pair, an unknown key
rm ds/reference/pair_0002.png
set +e
"$BIN" train --config config.json output_dir=out2 > err.log 2>&1; rc=$?
set -e
test $rc != 0 && grep -q "pair_0002.png" err.log
set +e
"$BIN" train --config config.json lora_rnak=4 > err2.log 2>&1; rc=$?
set -e
test $rc = 2 && grep -q "did you mean 'lora_rank'" err2.log
echo ok
