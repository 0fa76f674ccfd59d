#!/usr/bin/env bash
# Training on bad numbers and damaged outputs, through the CLI on the tiny preset:
#   - a diverging run (learning_rate 1e6, the top of its range) stops with exit 1 naming the step, before that step is
#     logged or checkpointed; its logs hold no bare nan/inf;
#   - learning_rate inf, Infinity, 1e999, 0x10 (command line or config.json) are refused (exit 2);
#   - a LoRA file holding NaN/Inf is an error naming the file and the tensor (validate --lora, init_lora);
#   - resume_from_checkpoint=latest passes over a damaged newest checkpoint (LoRA file, negative
#     global_step, wrong step for its folder) with a warning naming it, and ends where an
#     uninterrupted run ends; naming the damaged checkpoint is an error;
#   - temp files of killed runs (final LoRA, loss curve, a cache entry) go at the next run's start.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
export SIMPLETUNER_EXAMPLES_DIR=$(pwd)/examples
st_workdir
d=$ST_DIR
export SIMPLETUNER_TINY_DIR=$d/tiny
cd "$d"
T=(train example=tiny.qwen_image.edit-v2-lora num_eval_images=0 checkpoint_step_interval=1 checkpoints_total_limit=0)

# a diverging run
expect_fail -c 1 "$BIN" "${T[@]}" output_dir=div max_train_steps=4 learning_rate=1e6
expect_grep "error: step 3: the (loss|gradient norm) is -?(nan|inf)"
expect_grep -F "stopped before the optimizer step, nothing of step 3 is logged or checkpointed"
expect_file div/checkpoint-2/training_state.json
expect_no_path div/checkpoint-3
expect_eq "$(wc -l < div/training_log.jsonl)" 2 "logged steps of the diverged run"
# beyond the range: refused before any work
expect_fail -c 2 "$BIN" "${T[@]}" output_dir=x learning_rate=1e30
expect_grep -F "option 'learning_rate' expects a number in [0, 1000000], got 1e30"
expect_no_grep -i 'nan|inf' div/training_log.jsonl
expect_no_grep -i 'nan|inf' div/training_log.csv

# non-finite numbers in options
for v in inf Infinity -inf 1e999 0x10 nan; do
    expect_fail -c 2 "$BIN" "${T[@]}" output_dir=x learning_rate=$v
    expect_grep -F "command line: option 'learning_rate' expects a finite"
done
printf '{"model_family": "qwen_image", "model_type": "lora", "learning_rate": 1e999}\n' > lr.json
expect_fail -c 2 "$BIN" config show --config lr.json
expect_grep -F "lr.json: option 'learning_rate' expects a finite number"

# the uninterrupted reference: 6 steps
run_log ref.log "$BIN" "${T[@]}" output_dir=ref max_train_steps=6
ref_sha=$(sha256sum < ref/pytorch_lora_weights.safetensors)

# a LoRA holding NaN: its first 4 data bytes set to ff (a NaN in F32 and in BF16)
cp ref/pytorch_lora_weights.safetensors nan.safetensors
hl=$(od -An -t u8 -N 8 nan.safetensors | tr -d ' ')
printf '\377\377\377\377' | dd of=nan.safetensors bs=1 seek=$((8 + hl)) conv=notrunc status=none
expect_fail -c 1 "$BIN" validate --config "$SIMPLETUNER_EXAMPLES_DIR/tiny.qwen_image.edit-v2-lora/config.json" \
    --image tiny/data/tiny.qwen_image.edit-v2-lora/reference_a/pair_0000.png --image tiny/data/tiny.qwen_image.edit-v2-lora/reference_b/pair_0000.png \
    --prompt p --lora nan.safetensors --output nan.png
expect_grep "nan.safetensors: LoRA tensor 'transformer\..*' holds -?nan at index 0 .*values must be finite"
expect_no_path nan.png
expect_fail "$BIN" "${T[@]}" output_dir=x max_train_steps=1 init_lora=nan.safetensors
expect_grep "init_lora.*nan.safetensors: LoRA tensor 'transformer\..*' holds -?nan"

# damaged newest checkpoints: each is passed over with a warning naming it
for damage in lora negative_step wrong_step; do
    rm -rf out
    run_log part.log "$BIN" "${T[@]}" output_dir=out max_train_steps=4
    case $damage in
    lora) head -c 300 ref/pytorch_lora_weights.safetensors > out/checkpoint-4/pytorch_lora_weights.safetensors ;;
    negative_step) printf '{"global_step": -5, "epoch": 1}' > out/checkpoint-4/training_state.json ;;
    wrong_step) printf '{"global_step": 3, "epoch": 1}' > out/checkpoint-4/training_state.json ;;
    esac
    expect_fail -c 1 "$BIN" "${T[@]}" output_dir=out max_train_steps=6 resume_from_checkpoint=checkpoint-4
    expect_grep -F "out/checkpoint-4/"
    run_log resume.log "$BIN" "${T[@]}" output_dir=out max_train_steps=6 resume_from_checkpoint=latest
    expect_grep "warning: out/checkpoint-4 is damaged and is not resumed from: .*; trying the previous checkpoint" resume.log
    expect_grep -F "resumed from out/checkpoint-3 (step 3)" resume.log
    expect_eq "$(sha256sum < out/pytorch_lora_weights.safetensors)" "$ref_sha" "$damage: final LoRA after the fallback"
    expect_same_file out/training_log.jsonl ref/training_log.jsonl "$damage: the log after the fallback"
done

# temp files left by killed runs: a dead pid's go, other names stay
sleep 0 &
dead=$!
wait $dead
entry=$(find tiny/cache -name '*.safetensors' | head -n 1)
touch "out/pytorch_lora_weights.safetensors.tmp.$dead" "out/loss_curve.png.tmp.$dead" "$entry.tmp.$dead" out/notes.tmp.txt
run_log again.log "$BIN" "${T[@]}" output_dir=out max_train_steps=6 resume_from_checkpoint=latest
expect_grep -F "removed 2 temp files left in out by killed runs" again.log
expect_grep -F "removed 1 unfinished cache entry left by killed runs" again.log
expect_no_path "out/pytorch_lora_weights.safetensors.tmp.$dead" "out/loss_curve.png.tmp.$dead" "$entry.tmp.$dead"
expect_file out/notes.tmp.txt
echo ok
