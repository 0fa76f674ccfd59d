#!/usr/bin/env bash
# The trainer learns: full fine-tuning of the small init-model Qwen-Image edit model on 4 synthetic
# edit pairs (batch 4) halves the loss — the mean of the last 20 optimizer steps is at most half the mean of
# the first 20 (measured: about 0.2 of it). Zero gradients, a skipped optimizer step or a wrong
# target would leave the ratio near 1. Deterministic (fixed seeds).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
st_workdir
cd "$ST_DIR"
export OMP_NUM_THREADS=2
"$BIN" init-model --family qwen_image --flavour edit-v2 --size small --out model --seed 0 > /dev/null
"$BIN" make-dataset --kind edit-pairs --out ds --count 4 --size 64x64 > /dev/null
cat > mdb.json <<JSON
[{"id": "e", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile", "resolution": 64,
  "cache_dir_vae": "cache/e", "conditioning_data": ["r"]},
 {"id": "r", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
  "instance_data_dir": "ds/reference", "resolution": 64, "cache_dir_vae": "cache/r"}]
JSON
"$BIN" train model_family=qwen_image model_flavour=edit-v2 pretrained_model_name_or_path=model model_type=full \
    optimizer=torch-adamw learning_rate=2e-3 lr_scheduler=constant max_train_steps=120 train_batch_size=4 seed=1 \
    num_eval_images=0 checkpoint_step_interval=1000 output_dir=out data_backend_config=mdb.json cache_dir=cache > train.log 2>&1 \
    || { cat train.log; fail "training"; }
expect_eq "$(wc -l < out/training_log.jsonl)" 120 "logged steps"
sed 's/.*"loss": \([^,]*\),.*/\1/' out/training_log.jsonl | awk '
    NR <= 20 { first += $1 } NR > 100 { last += $1 }
    END { printf "loss: first 20 steps %.4f, last 20 steps %.4f (ratio %.3f)\n", first / 20, last / 20, last / first;
          exit (last <= 0.5 * first) ? 0 : 1 }' || fail "the loss did not halve"

# model_type=full exports the whole transformer as diffusers' save_pretrained lays it out (weights
# and config.json in output_dir/transformer/, and in each checkpoint), not as a LoRA file; the
# folder loads as the model's transformer and renders other images than the base
expect_file out/transformer/diffusion_pytorch_model.safetensors out/transformer/config.json \
    out/checkpoint-120/transformer/diffusion_pytorch_model.safetensors out/checkpoint-120/transformer/config.json
expect_no_path out/pytorch_lora_weights.safetensors out/checkpoint-120/pytorch_lora_weights.safetensors
expect_same_file model/transformer/config.json out/transformer/config.json
expect_grep "^weights: +out/transformer/diffusion_pytorch_model.safetensors$" train.log
for m in base trained; do
    extra=()
    if [ $m = trained ]; then extra=(--pretrained_transformer_model_name_or_path out/transformer); fi
    run_log "val_$m.log" "$BIN" validate --model_family qwen_image --model_flavour edit-v2 --pretrained_model_name_or_path model \
        "${extra[@]}" --image ds/reference/pair_0000.png --prompt "$(cat ds/images/pair_0000.txt)" \
        --validation_resolution 64x64 --validation_num_inference_steps 2 --output "$m.png"
done
expect_diff_file base.png trained.png
# one sampling step cannot end at the Qwen scheduler's shift_terminal: an error, not diffusers' black image
expect_fail -c 2 "$BIN" validate --model_family qwen_image --model_flavour edit-v2 --pretrained_model_name_or_path model \
    --image ds/reference/pair_0000.png --prompt "x" --validation_resolution 64x64 --validation_num_inference_steps 1 --output one.png
expect_grep -F "validation_num_inference_steps 1: this model's scheduler stretches its sigmas to end at shift_terminal 0.02"
expect_no_path one.png
# resuming from the full checkpoint checks its exported transformer against the trainable parameters
run_log resume.log "$BIN" train model_family=qwen_image model_flavour=edit-v2 pretrained_model_name_or_path=model model_type=full \
    optimizer=torch-adamw learning_rate=2e-3 lr_scheduler=constant max_train_steps=122 train_batch_size=4 seed=1 \
    num_eval_images=0 checkpoint_step_interval=1000 output_dir=out data_backend_config=mdb.json cache_dir=cache \
    resume_from_checkpoint=latest
expect_grep "resum.*checkpoint-120" resume.log
echo ok
