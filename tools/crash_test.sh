#!/usr/bin/env bash
# crash_test.sh [--short] [BIN] — kill -9 during training, resume, and check that nothing is lost.
#
# Trains the tiny Qwen-Image edit-v2 preset (no download) with a checkpoint every step,
# checkpoints_total_limit=2 and validation every few steps, and kills it with SIGKILL at many moments:
# while caching latents and prompt embeddings, mid-step (between forward and backward, before the
# optimizer, between the JSONL and the CSV line), while a checkpoint is written, committed and
# rotated (also half way through deleting the old one), during in-training validation, while the
# loss curve, the logs' rewrite and the final weights are written. Named moments use the crash
# points of the program (SIMPLETUNER_CRASH_AT, src/base/crash_point.h: the program sends itself
# SIGKILL there, exactly like kill -9); a second campaign kills after random delays from outside.
# After every kill it checks that each checkpoint-<step> folder is complete, then resumes
# (resume_from_checkpoint=latest). At the end of each campaign:
#   - the final LoRA has the sha256 of an uninterrupted run's,
#   - training_log.jsonl and .csv equal the uninterrupted run's byte for byte (each step once),
#   - every validation sheet equals the uninterrupted run's,
#   - no temp file (*.tmp.<pid>), trash (*.del.<pid>) or moved-aside (*.old.<pid>) name is left in
#     output_dir or the caches, and only complete checkpoints remain.
# Full: 45 named kills + up to $RANDOM_KILLS (30) random ones (make crash-test, 1-3 minutes).
# --short: 5 kills (tests/sh/test_crash_short.sh).
# Prints "crash test: N kills ... ok" and exits 0, or names the first problem and exits 1.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
SHORT=0
if [ "${1:-}" = "--short" ]; then SHORT=1; shift; fi
B=${1:-${BIN:-$REPO/build/simpletuner}}
BIN=$(cd "$(dirname "$B")" && pwd)/$(basename "$B")
W=$(mktemp -d)
cleanup() { if [ "${KEEP:-0}" = 1 ]; then echo "crash test: kept $W"; else rm -rf "$W"; fi; }
trap cleanup EXIT
export SIMPLETUNER_EXAMPLES_DIR=$REPO/examples SIMPLETUNER_TINY_DIR=$W/tiny
unset SIMPLETUNER_CRASH_AT
cd "$W"
P=tiny.qwen_image.edit-v2-lora
CACHE=$W/tiny/cache
if [ $SHORT = 1 ]; then STEPS=4; VAL=2; else STEPS=8; VAL=3; fi
COMMON=(example=$P max_train_steps=$STEPS checkpoint_step_interval=1 checkpoints_total_limit=2
        validation_step_interval=$VAL validation_num_inference_steps=2 resume_from_checkpoint=latest)
kills=0

die() { echo "crash test: FAIL: $*" >&2; if [ -f "$W/run.log" ]; then tail -n 25 "$W/run.log" >&2; fi; KEEP=${KEEP:-0}; exit 1; }

# Every folder named exactly checkpoint-<step> holds a whole checkpoint.
check_checkpoints() {
    local out=$1 c f
    for c in "$out"/checkpoint-*; do
        [[ "$(basename "$c")" =~ ^checkpoint-[0-9]+$ ]] || continue
        for f in training_state.json pytorch_lora_weights.safetensors trainable_parameters.safetensors \
                 optimizer.safetensors rng_state.bin sampler_state.bin; do
            [ -s "$c/$f" ] || die "$c is a checkpoint name but has no $f (after kill $kills)"
        done
    done
}

train() { # OUT [CRASH_AT]: one run; prints its exit code
    local out=$1 at=${2:-} rc=0
    SIMPLETUNER_CRASH_AT=$at "$BIN" train "${COMMON[@]}" output_dir="$out" > "$W/run.log" 2>&1 || rc=$?
    echo $rc
}

# kill_at OUT POINT: a run that must die at the crash point POINT.
kill_at() {
    local rc
    rc=$(train "$1" "$2")
    [ "$rc" = 137 ] || die "crash point '$2': exit $rc, expected SIGKILL (137)$([ "$rc" = 0 ] && echo ': the point was never reached')"
    kills=$((kills + 1))
    check_checkpoints "$1"
}

# finish OUT: resume to the end, then compare everything with the uninterrupted run.
finish() {
    local out=$1 rc k
    rc=$(train "$out")
    [ "$rc" = 0 ] || die "$out: the final resume exited $rc"
    check_checkpoints "$out"
    [ "$(sha256sum < "$out/pytorch_lora_weights.safetensors")" = "$REF_SHA" ] || die "$out: final LoRA differs from the uninterrupted run's"
    for f in training_log.jsonl training_log.csv; do
        cmp -s "$out/$f" ref/$f || { diff ref/$f "$out/$f" >&2 || :; die "$out/$f differs from the uninterrupted run's"; }
    done
    for k in $(seq 1 $STEPS); do
        [ "$(grep -c "^{\"step\": $k," "$out/training_log.jsonl")" = 1 ] || die "step $k is not logged exactly once in JSONL"
        [ "$(grep -c "^$k," "$out/training_log.csv")" = 1 ] || die "step $k is not logged exactly once in CSV"
    done
    (cd ref/validation && find . -name '*.png') | while read -r png; do
        cmp -s "ref/validation/$png" "$out/validation/$png" || die "$out/validation/$png is missing or differs"
    done
    local stray
    stray=$(find "$out" "$CACHE" -name '*.tmp.*' -o -name '*.del.*' -o -name '*.old.*')
    [ -z "$stray" ] || die "left behind: $stray"
    local n
    n=$(find "$out" -maxdepth 1 -name 'checkpoint-*' | wc -l)
    [ "$n" = 2 ] || die "$out: $n checkpoints, expected checkpoints_total_limit 2"
}

# The uninterrupted run (it also creates the tiny model and dataset).
rc=$(train ref)
[ "$rc" = 0 ] || die "the uninterrupted run exited $rc"
REF_SHA=$(sha256sum < ref/pytorch_lora_weights.safetensors)

if [ $SHORT = 1 ]; then
    POINTS=("vae/reference_b/pair_0002" "step 1 log-csv" "validate 2" "rotate checkpoint-1" "final-save")
else
    POINTS=(
        # caching (the cache is removed first): VAE latents of the edit images and references, prompt embeddings
        "vae/images/pair_0000" "vae/reference_b/pair_0002" "text/qwen_image/edit-images/pair_0005" "vae/reference_c/pair_0007"
        # validation at step 0
        "validate 0" "sampling 2/2" "validation/step-0/00.png"
        # step 1: mid-step, between the log lines, before the checkpoint, inside it, before its rename and its rotation
        "step 1 backward" "step 1 optimizer" "step 1 log-csv" "step 1 checkpoint" "checkpoint-1.tmp." "checkpoint-1 commit"
        "checkpoint-1 rotate"
        # resuming from checkpoint-1: its exported-weights check; a log cut and a kill while the cut is written
        "exported-weights-check" "step 2 checkpoint" "training_log.jsonl" "step 2 backward" "step 2 log-csv"
        "checkpoint-2.tmp." "checkpoint-2 rotate"
        # step 3: validation comes before its checkpoint
        "step 3 optimizer" "validate 3" "sampling 1/2" "validation/step-3/00.png" "checkpoint-3 commit" "checkpoint-3 rotate"
        # rotation: checkpoint-1 moved to its trash name (step 4), checkpoint-2 half deleted (step 5)
        "rotate checkpoint-1" "checkpoint-2.del."
        "step 6 backward" "validate 6" "sampling 2/2" "checkpoint-6.tmp." "checkpoint-6 rotate"
        "step 7 backward" "step 7 checkpoint" "checkpoint-7 rotate"
        "step 8 optimizer" "validate 8" "validation/step-8/00.png" "checkpoint-8 commit" "rotate checkpoint-4"
        # resumed at max_train_steps: the loss curve and the final weights
        "loss_curve.png" "final-save" "named/pytorch_lora_weights.safetensors"
    )
fi

# Campaign 1: named crash points from an empty cache to the final weights.
rm -rf "$CACHE"
for pt in "${POINTS[@]}"; do kill_at named "$pt"; done
finish named
named_kills=$kills

# Campaign 2 (full only): kill -9 from outside after random delays, from an empty cache, until a run ends by
# itself or RANDOM_KILLS runs were killed; then the run to the end.
if [ $SHORT = 0 ]; then
    rm -rf "$CACHE"
    declare -A phases=()
    RANDOM=1812
    random_kills=0
    while [ $random_kills -lt "${RANDOM_KILLS:-30}" ]; do   # a slow machine would otherwise be killed for ever
        delay=$(printf '0.%03d' $((50 + RANDOM % 900)))
        if [ $((RANDOM % 3)) = 0 ]; then delay=1.$((RANDOM % 10)); fi
        "$BIN" train "${COMMON[@]}" output_dir=random > "$W/run.log" 2>&1 &
        pid=$!
        sleep "$delay"
        if kill -9 "$pid" 2>/dev/null; then
            rc=0; wait "$pid" 2>/dev/null || rc=$?
            if [ "$rc" = 137 ]; then
                kills=$((kills + 1)); random_kills=$((random_kills + 1))
                phase=$(tail -c 400 "$W/run.log" | tr '\r' '\n' | grep -v '^[[:space:]]*$' | tail -n 1 || :)
                case "$phase" in
                *"caching"*|dataset*|"") phases[start-up/caching]=$((${phases[start-up/caching]:-0} + 1)) ;;
                *"sampling step"*|"validation step"*) phases[validation]=$((${phases[validation]:-0} + 1)) ;;
                "saved checkpoint"*|removing*|*"restored"*) phases[checkpoint]=$((${phases[checkpoint]:-0} + 1)) ;;
                *) phases[training]=$((${phases[training]:-0} + 1)) ;;
                esac
                check_checkpoints random
                continue
            fi
            [ "$rc" = 0 ] || die "random kill after ${delay}s: exit $rc"
            break
        fi
        rc=0; wait "$pid" 2>/dev/null || rc=$?
        [ "$rc" = 0 ] || die "a resumed run exited $rc"
        break
    done
    finish random
    summary=""
    for k in "${!phases[@]}"; do summary="$summary ${phases[$k]} $k,"; done
    echo "crash test: random kills by what the log showed last:${summary%,}"
fi
echo "crash test: $kills kills ($named_kills at named crash points, $((kills - named_kills)) after random delays): final LoRA sha256 and logs equal the uninterrupted run's, each step logged once, no temp file, no half checkpoint: ok"
