#!/bin/sh
# Ctrl-C (SIGINT) and SIGTERM during training: the step in progress finishes, a checkpoint of it is
# written with the loss curve, the run exits 0, and resume_from_checkpoint=latest continues from it.
set -e
BIN=$(cd "$(dirname "${BIN:-build/simpletuner}")" && pwd)/$(basename "${BIN:-build/simpletuner}")
export SIMPLETUNER_EXAMPLES_DIR=$(pwd)/examples
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
export SIMPLETUNER_TINY_DIR=$d/tiny
cd "$d"
P=tiny.qwen_image.edit-v1-lora
OUT=output/$P
COMMON="example=$P num_eval_images=0 checkpoint_step_interval=100000 checkpoints_total_limit=10"

for sig in INT TERM; do
    rm -rf output
    "$BIN" train $COMMON max_train_steps=100000 > run.log 2>&1 &
    pid=$!
    # wait until a few optimizer steps are logged (caching comes first)
    i=0
    while [ "$(cat $OUT/training_log.jsonl 2>/dev/null | wc -l)" -lt 3 ]; do
        i=$((i + 1)); [ $i -lt 1200 ] || { kill -9 $pid; cat run.log; echo "no training steps logged"; exit 1; }
        sleep 0.1
    done
    kill -$sig $pid
    rc=0; wait $pid || rc=$?
    [ $rc -eq 0 ] || { cat run.log; echo "SIG$sig: exit $rc, expected 0"; exit 1; }
    grep -q "interrupted at step" run.log || { cat run.log; exit 1; }
    n=$(sed -n 's/.*interrupted at step \([0-9]*\).*/\1/p' run.log)
    test -f $OUT/checkpoint-$n/pytorch_lora_weights.safetensors
    test -f $OUT/checkpoint-$n/training_state.json
    test -f $OUT/loss_curve.png
    test ! -f $OUT/pytorch_lora_weights.safetensors     # no final weights: the run did not finish
    last=$(tail -n 1 $OUT/training_log.jsonl | sed 's/.*"step": \([0-9]*\),.*/\1/')
    [ "$last" = "$n" ] || { echo "log ends at step $last, checkpoint at $n"; exit 1; }
done

# the last interrupted run continues to its end
m=$((n + 2))
"$BIN" train $COMMON max_train_steps=$m resume_from_checkpoint=latest > resume.log 2>&1 || { cat resume.log; exit 1; }
grep -q "resumed from .*checkpoint-$n" resume.log || { cat resume.log; exit 1; }
grep -q "trained $m steps" resume.log || { cat resume.log; exit 1; }
test -f $OUT/pytorch_lora_weights.safetensors
echo ok
