#!/usr/bin/env bash
# Ctrl-C (SIGINT) and SIGTERM during training: the step in progress finishes, a checkpoint of it is
# written with the loss curve, the run exits 0, and resume_from_checkpoint=latest continues from it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
export SIMPLETUNER_EXAMPLES_DIR=$(pwd)/examples
st_workdir
d=$ST_DIR
export SIMPLETUNER_TINY_DIR=$d/tiny
cd "$d"
P=tiny.qwen_image.edit-v1-lora
OUT=output/$P
COMMON=(example=$P num_eval_images=0 checkpoint_step_interval=100000 checkpoints_total_limit=10)

n=0
for sig in INT TERM; do
    rm -rf output
    "$BIN" train "${COMMON[@]}" max_train_steps=100000 > run.log 2>&1 &
    pid=$!
    # wait until a few optimizer steps are logged (caching comes first)
    i=0
    while [ "$(cat $OUT/training_log.jsonl 2>/dev/null | wc -l)" -lt 3 ]; do
        i=$((i + 1))
        if [ $i -ge 1200 ]; then kill -9 $pid; cat run.log; fail "no training steps logged"; fi
        sleep 0.1
    done
    kill -$sig $pid
    rc=0; wait $pid || rc=$?
    expect_eq "$rc" 0 "SIG$sig: exit code"
    expect_grep -F "interrupted at step" run.log
    n=$(sed -n 's/.*interrupted at step \([0-9]*\).*/\1/p' run.log)
    expect_file $OUT/checkpoint-$n/pytorch_lora_weights.safetensors $OUT/checkpoint-$n/training_state.json $OUT/loss_curve.png
    expect_no_path $OUT/pytorch_lora_weights.safetensors     # no final weights: the run did not finish
    last=$(tail -n 1 $OUT/training_log.jsonl | sed 's/.*"step": \([0-9]*\),.*/\1/')
    expect_eq "$last" "$n" "the log ends at the checkpoint's step"
done

# the last interrupted run continues to its end
m=$((n + 2))
run_log resume.log "$BIN" train "${COMMON[@]}" max_train_steps=$m resume_from_checkpoint=latest
expect_grep "resumed from .*checkpoint-$n" resume.log
expect_grep -F "trained $m steps" resume.log
expect_file $OUT/pytorch_lora_weights.safetensors
expect_eq "$(wc -l < $OUT/training_log.jsonl)" "$m" "each step logged once"
echo ok
