#!/usr/bin/env bash
# Ctrl-C (SIGINT) and SIGTERM where they used to be ignored for minutes: during validation (the sheet
# being rendered is dropped, the step is checkpointed), during caching (finished entries are kept),
# during `validate`; and a second Ctrl-C that stops at once. Validation here would take hours
# (validation_num_inference_steps=1000): every stop must come within seconds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
export SIMPLETUNER_EXAMPLES_DIR=$(pwd)/examples
st_workdir
d=$ST_DIR
export SIMPLETUNER_TINY_DIR=$d/tiny
cd "$d"
P=tiny.qwen_image.edit-v2-lora
OUT=output/$P
HEAVY=(validation_resolution=384x384 validation_num_inference_steps=1000)
LIMIT_MS=15000   # one sampling step or cache entry takes well under a second here; loaded machines vary

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# wait_for PATTERN FILE PID: until FILE has the (fixed) PATTERN; fails when PID ends first or after 120 s
wait_for() {
    local i=0
    while ! grep -qF -- "$1" "$2" 2>/dev/null; do
        i=$((i + 1))
        if ! kill -0 "$3" 2>/dev/null; then cat "$2"; fail "the run ended before '$1'"; fi
        if [ $i -ge 1200 ]; then kill -9 "$3"; cat "$2"; fail "no '$1' in $2 after 120 s"; fi
        sleep 0.1
    done
}
# stop SIGNAL PID LOG: sends the signal, waits for the exit; sets RC and MS (milliseconds it took)
stop() {
    local t0
    t0=$(now_ms)
    kill -"$1" "$2"
    RC=0; wait "$2" || RC=$?
    MS=$(( $(now_ms) - t0 ))
    if [ "$MS" -ge "$LIMIT_MS" ]; then cat "$3"; fail "SIG$1: the run took ${MS} ms to stop"; fi
}
no_temps() {
    local n
    n=$(find "$@" -name '*.tmp*' | wc -l)
    expect_eq "$n" 0 "temp files left behind"
}

# 1. Ctrl-C during the step-0 validation: the sheet is dropped, nothing was trained or checkpointed
"$BIN" train example=$P max_train_steps=100000 "${HEAVY[@]}" > a.log 2>&1 &
pid=$!
wait_for "validation step 0, image 1/1" a.log $pid
sleep 1
stop INT $pid a.log
expect_eq "$RC" 0 "exit code after a Ctrl-C in the step-0 validation"
expect_grep -F "Ctrl-C: stopping after this optimizer step, which is checkpointed (a validation sheet being rendered is dropped" a.log
expect_grep -F "Ctrl-C again to stop now" a.log
expect_grep -F "interrupted before the first step: nothing trained, nothing checkpointed" a.log
expect_no_path $OUT/validation/step-0/00.png $OUT/checkpoint-1 $OUT/pytorch_lora_weights.safetensors
no_temps output

# 2. SIGTERM during the validation of step 3 of a resumed run: step 3 is checkpointed without its sheet,
#    and the checkpoint is whole (the next run resumes from it)
rm -rf output
run_log b1.log "$BIN" train example=$P max_train_steps=2 num_eval_images=0 checkpoint_step_interval=1
"$BIN" train example=$P max_train_steps=100000 resume_from_checkpoint=latest validation_step_interval=3 \
    checkpoint_step_interval=100000 "${HEAVY[@]}" > b.log 2>&1 &
pid=$!
wait_for "validation step 3, image 1/1" b.log $pid
sleep 1
stop TERM $pid b.log
expect_eq "$RC" 0 "exit code after SIGTERM in a validation"
expect_grep -F "SIGTERM: stopping after this optimizer step" b.log
expect_grep -F "interrupted: saving a checkpoint at step 3" b.log
expect_grep -F "interrupted at step 3: checkpoint $OUT/checkpoint-3/" b.log
expect_file $OUT/checkpoint-3/pytorch_lora_weights.safetensors $OUT/checkpoint-3/training_state.json $OUT/loss_curve.png
expect_no_path $OUT/validation/step-3/00.png
expect_eq "$(tail -n 1 $OUT/training_log.jsonl | sed 's/.*"step": \([0-9]*\),.*/\1/')" 3 "the log ends at the checkpoint's step"
no_temps output
run_log b2.log "$BIN" train example=$P max_train_steps=4 resume_from_checkpoint=latest num_eval_images=0
expect_grep -F "resumed from $OUT/checkpoint-3 (step 3)" b2.log
expect_grep -F "trained 4 steps" b2.log

# 3. a second Ctrl-C stops at once, in the middle of a long sampling step (exit status 130 = SIGINT)
rm -rf output
"$BIN" train example=$P max_train_steps=100000 validation_resolution=1024x1024 validation_num_inference_steps=1000 > c.log 2>&1 &
pid=$!
wait_for "validation step 0, image 1/1" c.log $pid
sleep 1
kill -INT $pid
wait_for "Ctrl-C: stopping" c.log $pid
stop INT $pid c.log
expect_eq "$RC" 130 "exit status after a second Ctrl-C"
check test "$MS" -lt 5000 -- "the second Ctrl-C took ${MS} ms"
expect_grep -F "Ctrl-C again: stopping now" c.log
expect_no_path $OUT/validation/step-0/00.png

# 4. SIGTERM while caching: exit 130 at the next entry, the finished entries are kept and reused
"$BIN" make-dataset --kind edit-pairs --out ds --count 6 --size 512x512 > /dev/null
cat > mdb.json <<JSON
[
  {"id": "edits", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile",
   "resolution": 512, "resolution_type": "pixel_area", "conditioning_data": ["refs"], "cache_dir_vae": "cache/vae/edits"},
  {"id": "refs", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
   "instance_data_dir": "ds/reference", "resolution": 512, "cache_dir_vae": "cache/vae/refs"}
]
JSON
CACHE=(cache example=$P data_backend_config=mdb.json cache_dir=cache output_dir=out_cache)
"$BIN" "${CACHE[@]}" > d.log 2>&1 &
pid=$!
wait_for "caching latents and prompt embeddings: 1/6" d.log $pid
stop TERM $pid d.log
expect_eq "$RC" 130 "exit status of an interrupted cache"
expect_grep "stopped: interrupted while caching: [1-5] of 6 samples cached and kept \(rerun to continue\)" d.log
no_temps cache
kept=$(sed -n 's/.*interrupted while caching: \([0-9]*\) of.*/\1/p' d.log)
run_log d2.log "$BIN" "${CACHE[@]}"
expect_grep -F "caches: $((2 * kept)) VAE latents reused, $((12 - 2 * kept)) computed" d2.log

# 5. Ctrl-C in `validate`: exit 130, the image being rendered is not written
"$BIN" validate example=$P --image ds/reference/pair_0000.png --prompt "make it red" --output v.png "${HEAVY[@]}" > e.log 2>&1 &
pid=$!
wait_for "validating the base model" e.log $pid
sleep 1
stop INT $pid e.log
expect_eq "$RC" 130 "exit status of an interrupted validate"
expect_grep -F "Ctrl-C: stopping after this sampling step (the image being rendered is dropped" e.log
expect_grep -F "stopped: interrupted while rendering: the image was dropped" e.log
expect_no_path v.png
no_temps .
echo "stop when asked ok"
