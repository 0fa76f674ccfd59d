#!/usr/bin/env bash
# Options set to a value other than their default change what the program does, as
# tests/data/config/implemented_coverage.tsv lists (config_support.c: IMPLEMENTED). On the tiny Qwen
# edit-v1 model at 32x32: one short training run, then `validate` renders (sheets of the eval set
# with the trained LoRA), `cache` runs and a few more one-step trainings, each compared with the
# run of the defaults.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
ROOT=$(pwd)
MODEL=$ROOT/tests/data/models/qwenimage_edit
st_workdir
cd "$ST_DIR"
export OMP_NUM_THREADS=2
"$BIN" make-dataset --kind edit-pairs --out ds --count 2 --size 32x32 --seed 1 > /dev/null
"$BIN" make-dataset --kind edit-pairs --out ds2 --count 2 --size 32x32 --seed 2 > /dev/null
cat > data.json <<JSON
[
  {"id": "edits", "instance_data_dir": "ds/images", "caption_strategy": "textfile", "resolution": 32,
   "resolution_type": "pixel_area", "conditioning_data": ["refs"], "cache_dir_vae": "cache/vae/edits"},
  {"id": "refs", "dataset_type": "conditioning", "conditioning_type": "reference_strict", "instance_data_dir": "ds/reference",
   "resolution": 32, "cache_dir_vae": "cache/vae/refs"}
]
JSON
cat > config.json <<JSON
{
  "model_type": "lora", "model_family": "qwen_image", "model_flavour": "edit-v1", "pretrained_model_name_or_path": "$MODEL",
  "output_dir": "base", "data_backend_config": "data.json", "cache_dir": "cache", "optimizer": "adamw_bf16",
  "learning_rate": 1e-2, "lr_scheduler": "constant", "max_train_steps": 1, "num_train_epochs": 0, "train_batch_size": 1,
  "lora_rank": 2, "seed": 3, "validation_step_interval": 1, "num_eval_images": 1, "validation_resolution": "32x32",
  "validation_num_inference_steps": 2, "checkpoint_step_interval": 1, "caption_dropout_probability": 0.0,
  "model_kwargs": {"match_target_res": true}
}
JSON

# ---- training: SimpleTuner's base-model render before the first step, disable_benchmark, validation_on_startup
run_log base.log "$BIN" train --config config.json
expect_file base/validation/step-0/00.png base/validation/step-1/00.png
run_log nobench.log "$BIN" train --config config.json output_dir=nobench disable_benchmark=true
expect_no_path nobench/validation/step-0
expect_file nobench/validation/step-1/00.png
expect_same_file base/pytorch_lora_weights.safetensors nobench/pytorch_lora_weights.safetensors "disable_benchmark changes no weight"
cp -r base resumed; cp -r base startup
run_log resumed.log "$BIN" train --config config.json output_dir=resumed max_train_steps=2 validation_step_interval=10
expect_no_grep -F "validation step 1," resumed.log
run_log startup.log "$BIN" train --config config.json output_dir=startup max_train_steps=2 validation_step_interval=10 validation_on_startup=true
expect_grep -F "resumed from startup/checkpoint-1" startup.log
expect_grep -F "validation step 1, image 1/1" startup.log
expect_grep -F "validation step 2, image 1/1" startup.log
# a fresh run with validation_on_startup renders step 0 once
run_log fresh.log "$BIN" train --config config.json output_dir=fresh validation_on_startup=true
expect_eq "$(grep -c 'validation step 0,' fresh.log)" 1 "step 0 rendered once"

# ---- validation settings, rendered by `validate` with the trained LoRA (the eval set's sheets; two
# sampling steps: the tiny model's one-step result does not depend on the noise)
V() { local out=$1; shift; run_log "$out.log" "$BIN" validate --config config.json --output "$out" "$@"; }
V a
expect_same_file a/00.png base/validation/step-1/00.png "validate renders the in-training sheet"
# num_validation_images: image 0 as before, image 1 the next block of the seed's draw
V n2 num_validation_images=2
expect_same_file n2/00.png a/00.png "image 0 of num_validation_images=2 is the single image"
expect_file n2/00_1.png
expect_diff_file n2/00.png n2/00_1.png "image 1 has its own noise"
# validation_image_format / validation_image_quality
V jpg30 validation_image_format=jpeg validation_image_quality=30
V jpg95 validation_image_format=jpeg validation_image_quality=95
V webp validation_image_format=webp
file jpg30/00.jpg webp/00.webp > types.txt
expect_grep -F "jpg30/00.jpg: JPEG image data" types.txt
expect_grep -F "webp/00.webp: RIFF (little-endian) data, Web/P image" types.txt
check test "$(stat -c %s jpg30/00.jpg)" -lt "$(stat -c %s jpg95/00.jpg)" -- "quality 30 is smaller than quality 95"
expect_no_path jpg30/00.png
# validation_stitch_input_location: result | references instead of references | result, same size
V right validation_stitch_input_location=right
expect_diff_file right/00.png a/00.png "the result moved to the left"
file -b a/00.png right/00.png | sort -u > dims.txt
expect_eq "$(wc -l < dims.txt)" 1 "both sheets have one size"
# every rendering setting changes the image
for kv in validation_prompt=make_it_green validation_negative_prompt=sharp validation_seed=9 validation_guidance=2 \
          validation_guidance_real=3 validation_disable_unconditional=true validation_num_inference_steps=3 \
          validation_preview=true base_model_precision=int8-quanto; do
    d=${kv%%=*}
    V "$d" "$kv"
    if [ "$d" = validation_preview ]; then
        expect_same_file "$d/00.png" a/00.png "previews do not change the sheet"
        expect_file "$d/preview/00.step-01.png" "$d/preview/00.step-02.png"
    else
        expect_diff_file "$d/00.png" a/00.png "$kv changes the render"
    fi
done
expect_grep -F "quantising the transformer base to int8" base_model_precision.log
# validation_preview_steps: a preview every 2nd sampling step, and the last
V every2 validation_num_inference_steps=3 validation_preview=true validation_preview_steps=2
expect_file every2/preview/00.step-02.png every2/preview/00.step-03.png
expect_no_path every2/preview/00.step-01.png
V sizes validation_resolution=32x32,48x32 num_eval_images=2
expect_file sizes/00.png sizes/00_48x32.png sizes/01.png sizes/01_48x32.png

# eval_dataset_id chooses the set validation renders; disable_validation skips a set
cat > data2.json <<JSON
[
  {"id": "edits", "instance_data_dir": "ds/images", "caption_strategy": "textfile", "resolution": 32,
   "conditioning_data": ["refs"], "cache_dir_vae": "cache/vae/edits", "disable_validation": DV},
  {"id": "refs", "dataset_type": "conditioning", "instance_data_dir": "ds/reference", "resolution": 32, "cache_dir_vae": "cache/vae/refs"},
  {"id": "other", "instance_data_dir": "ds2/images", "caption_strategy": "textfile", "resolution": 32,
   "conditioning_data": ["refs2"], "cache_dir_vae": "cache/vae/other"},
  {"id": "refs2", "dataset_type": "conditioning", "instance_data_dir": "ds2/reference", "resolution": 32, "cache_dir_vae": "cache/vae/refs2"}
]
JSON
sed 's/DV/false/' data2.json > data2f.json
sed 's/DV/true/' data2.json > data2t.json
V first --data data2f.json
expect_same_file first/00.png a/00.png "the first image dataset by default"
V other --data data2f.json eval_dataset_id=other
expect_diff_file other/00.png a/00.png "eval_dataset_id=other renders the other set"
V skipped --data data2t.json
expect_same_file skipped/00.png other/00.png "disable_validation: validation takes the next set"
expect_fail -c 2 "$BIN" validate --config config.json --data data2t.json eval_dataset_id=edits --output x
expect_grep -F "eval_dataset_id names 'edits', which has disable_validation: true"

# ---- caches: where entries go (cache_dir_text, a dataset's text_embeds / conditioning_image_embeds,
# the global cache_dir_vae for a conditioning_image_embeds set without cache_dir), vae_enable_tiling
C() { local log=$1; shift; run_log "$log" "$BIN" cache --config config.json "$@"; }
C text.log cache_dir_text=tc
check test -d tc/edits -- "cache_dir_text holds the prompt embeddings"
cat > data3.json <<JSON
[
  {"id": "edits", "instance_data_dir": "ds/images", "caption_strategy": "textfile", "resolution": 32,
   "conditioning_data": ["refs"], "cache_dir_vae": "cache/vae/edits", "text_embeds": "t2", "conditioning_image_embeds": "cie"},
  {"id": "refs", "dataset_type": "conditioning", "instance_data_dir": "ds/reference", "resolution": 32, "cache_dir_vae": "cache/vae/refs"},
  {"id": "t1", "dataset_type": "text_embeds", "default": true, "cache_dir": "te1"},
  {"id": "t2", "dataset_type": "text_embeds", "cache_dir": "te2"},
  {"id": "cie", "dataset_type": "conditioning_image_embeds"}
]
JSON
C ids.log --data data3.json cache_dir_vae=cvae
check test -d te2/edits -- "the text_embeds dataset the set names holds its prompt embeddings"
expect_no_path te1/edits
check test -d cvae/refs -- "a conditioning_image_embeds set without cache_dir uses cache_dir_vae"
expect_grep -F "conditioning image embeds (cvae)" ids.log
C unused.log cache_dir_vae=elsewhere
expect_grep -F "warning: cache_dir_vae elsewhere is not used" unused.log
expect_no_path elsewhere
C tiled.log vae_enable_tiling=true
expect_grep -F "caches: 0 VAE latents reused, 4 computed" tiled.log

# ---- LoRA shape and training switches (one step each, compared with the defaults' weights)
T() { local out=$1; shift; run_log "$out.log" "$BIN" train --config config.json output_dir="$out" num_eval_images=0 "$@"; }
T t_base
for kv in lora_alpha=1 lora_dropout=0 learning_rate=0.05 seed=4; do
    d=t_${kv%%=*}
    T "$d" "$kv"
    expect_diff_file "$d/pytorch_lora_weights.safetensors" t_base/pytorch_lora_weights.safetensors "$kv changes the trained LoRA"
done
T t_targets 'peft_lora_target_modules=["to_q"]'
expect_no_grep -F "to_k.lora_A" t_targets/pytorch_lora_weights.safetensors
expect_grep -F "to_q.lora_A" t_targets/pytorch_lora_weights.safetensors
T t_rank lora_rank=3
check test "$(stat -c %s t_rank/pytorch_lora_weights.safetensors)" -gt "$(stat -c %s t_base/pytorch_lora_weights.safetensors)" -- "rank 3 stores more"
T t_ckpt gradient_checkpointing=false
expect_grep -F "gradient_checkpointing off" t_ckpt.log
expect_same_file t_ckpt/pytorch_lora_weights.safetensors t_base/pytorch_lora_weights.safetensors "checkpointing changes no number"

# ---- init_lokr_norm (lora_type=lycoris, the tiny LongCat LoKr preset): LoKr starts from the base weights' statistics
export SIMPLETUNER_EXAMPLES_DIR=$ROOT/examples SIMPLETUNER_TINY_DIR=$ST_DIR/tiny
L=(train example=tiny.longcat_image.edit-lycoris-lokr max_train_steps=1 num_eval_images=0 checkpoint_step_interval=100)
run_log lokr.log "$BIN" "${L[@]}" output_dir=lokr
run_log lokr_norm.log "$BIN" "${L[@]}" output_dir=lokr_norm init_lokr_norm=0.001
expect_diff_file lokr/pytorch_lora_weights.safetensors lokr_norm/pytorch_lora_weights.safetensors "init_lokr_norm starts LoKr elsewhere"

# ---- num_processes must match the processes (one without mpirun)
expect_fail -c 2 "$BIN" train --config config.json output_dir=np num_processes=2
expect_grep -F "num_processes=2, but this run is one process (start it with mpirun -np 2"
echo "option effects: ok"
