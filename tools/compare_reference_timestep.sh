#!/usr/bin/env bash
# compare_reference_timestep.sh — the measurement of issue 24: does a LongCat-Image-Edit LoRA learn
# better edits when training gives the reference tokens t = 0 (longcat_reference_timestep=zero,
# SimpleTuner's scheme) or the sample's t like every other token (shared, as the pipeline samples)?
#
# For each seed, the same LoRA (same data, seed, steps, settings) is trained both ways, then
# `simpletuner eval` renders a held-out paired folder with it (the pipeline's sampling: one t for
# every token) and the mean PSNR/SSIM against the targets are tabulated, with the base model's
# numbers for reference. The table is printed and written to WORK/table.md; every run's output
# (LoRA, eval sheet and report.json) stays under WORK.
#
# usage: tools/compare_reference_timestep.sh --model DIR --train DIR --heldout DIR [--work DIR]
#            [--seeds "1 2 3"] [--steps N] [--bin PATH] [key=value ...]
#   --model DIR     a LongCat-Image-Edit model folder (diffusers layout), e.g. the pretrained tiny one
#   --train DIR     the paired folder to train on, --heldout DIR the one to evaluate on (the layout
#                   `simpletuner make-dataset --kind edit-pairs` writes: images/ + .txt, reference/)
#   --work DIR      where runs go (default build/compare_reference_timestep)
#   --seeds LIST    training seeds (default "1 2 3"); --steps N optimizer steps (default 100)
#   key=value       passed to train and eval, e.g. learning_rate=5e-4 lora_rank=16
#                   validation_resolution=128x128 validation_num_inference_steps=8 resolution=128
# Defaults: lora_rank 8, learning_rate 1e-3 (constant), batch 1, resolution 128 (pixel_area),
# validation_resolution 128x128, 8 sampling steps, guidance 4.5, validation_seed 42, references
# VAE-encoded at the target's area (match_target_res).
set -euo pipefail
export LC_ALL=C   # decimal points in printf and awk

BIN=build/simpletuner
WORK=build/compare_reference_timestep
SEEDS="1 2 3"
STEPS=100
MODEL="" TRAIN="" HELDOUT=""
EXTRA=()
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --model) MODEL=$2; shift 2 ;;
        --train) TRAIN=$2; shift 2 ;;
        --heldout) HELDOUT=$2; shift 2 ;;
        --work) WORK=$2; shift 2 ;;
        --seeds) SEEDS=$2; shift 2 ;;
        --steps) STEPS=$2; shift 2 ;;
        --bin) BIN=$2; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *=*) EXTRA+=("$1"); shift ;;
        *) echo "compare_reference_timestep: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
for v in MODEL TRAIN HELDOUT; do
    if [ -z "${!v}" ]; then echo "compare_reference_timestep: --$(echo "$v" | tr 'A-Z' 'a-z') is required (see --help)" >&2; exit 2; fi
done
for d in "$MODEL" "$TRAIN" "$HELDOUT"; do
    if [ ! -d "$d" ]; then echo "compare_reference_timestep: $d: no such folder" >&2; exit 2; fi
done
abs() { (cd "$1" && pwd); }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
MODEL=$(abs "$MODEL"); TRAIN=$(abs "$TRAIN"); HELDOUT=$(abs "$HELDOUT")
mkdir -p "$WORK"
WORK=$(abs "$WORK")

# the training folder as SimpleTuner datasets: the edit images and one conditioning set per reference folder
refs=()
if [ -d "$TRAIN/reference" ]; then refs=(reference); else
    for r in reference_a reference_b reference_c; do if [ -d "$TRAIN/$r" ]; then refs+=("$r"); fi; done
fi
if [ ${#refs[@]} = 0 ]; then echo "compare_reference_timestep: $TRAIN: no reference/ folder" >&2; exit 2; fi
{
    ids=$(printf '"%s", ' "${refs[@]}"); ids=${ids%, }
    echo "["
    echo "  {\"id\": \"edits\", \"type\": \"local\", \"instance_data_dir\": \"$TRAIN/images\", \"caption_strategy\": \"textfile\","
    echo "   \"conditioning_data\": [$ids], \"cache_dir_vae\": \"$WORK/cache/vae/edits\"}"
    for r in "${refs[@]}"; do
        echo "  , {\"id\": \"$r\", \"type\": \"local\", \"dataset_type\": \"conditioning\", \"conditioning_type\": \"reference_strict\","
        echo "     \"instance_data_dir\": \"$TRAIN/$r\", \"cache_dir_vae\": \"$WORK/cache/vae/$r\"}"
    done
    echo "]"
} > "$WORK/multidatabackend.json"
cat > "$WORK/config.json" <<JSON
{
  "model_type": "lora", "model_family": "longcat_image", "model_flavour": "edit",
  "pretrained_model_name_or_path": "$MODEL", "data_backend_config": "$WORK/multidatabackend.json",
  "cache_dir": "$WORK/cache", "output_dir": "$WORK/base",
  "optimizer": "adamw_bf16", "learning_rate": 1e-3, "lr_scheduler": "constant", "max_train_steps": $STEPS,
  "num_train_epochs": 0, "train_batch_size": 1, "lora_rank": 8, "caption_dropout_probability": 0.0,
  "resolution": 128, "resolution_type": "pixel_area", "checkpoint_step_interval": $((STEPS + 1)),
  "validation_disable": true, "validation_resolution": "128x128", "validation_num_inference_steps": 8,
  "validation_guidance": 4.5, "validation_seed": 42,
  "model_kwargs": {"match_target_res": true}
}
JSON

# "12.345" from report.json's "mean_psnr": 12.345, (null: identical images, inf)
mean_of() {
    local v
    v=$(sed -n "s/.*\"$2\":[[:space:]]*\\([^,]*\\),.*/\\1/p" "$1" | head -n 1)
    if [ "$v" = null ]; then echo inf; else echo "$v"; fi
}
run() {   # run LOG CMD...: quiet unless it fails
    local log=$1; shift
    if ! "$@" > "$log" 2>&1; then tail -n 30 "$log" >&2; echo "compare_reference_timestep: failed: $* (log: $log)" >&2; exit 1; fi
}

C=(--config "$WORK/config.json")
echo "compare_reference_timestep: base model on $HELDOUT" >&2
run "$WORK/base.eval.log" "$BIN" eval "${C[@]}" "${EXTRA[@]}" output_dir="$WORK/base" --dataset "$HELDOUT" --out "$WORK/base/eval"
rows=()
for seed in $SEEDS; do
    row="$seed"
    for mode in zero shared; do
        out="$WORK/$mode-seed$seed"
        echo "compare_reference_timestep: seed $seed, longcat_reference_timestep=$mode: train $STEPS steps, eval" >&2
        run "$out.train.log" "$BIN" train "${C[@]}" "${EXTRA[@]}" output_dir="$out" seed="$seed" longcat_reference_timestep=$mode
        run "$out.eval.log" "$BIN" eval "${C[@]}" "${EXTRA[@]}" output_dir="$out" --dataset "$HELDOUT" --out "$out/eval"
        row="$row $(mean_of "$out/eval/report.json" mean_psnr) $(mean_of "$out/eval/report.json" mean_ssim)"
    done
    rows+=("$row")
done

base_psnr=$(mean_of "$WORK/base/eval/report.json" mean_psnr); base_ssim=$(mean_of "$WORK/base/eval/report.json" mean_ssim)
pairs=$(sed -n 's/.*"pairs_evaluated":[[:space:]]*\([0-9]*\),.*/\1/p' "$WORK/base/eval/report.json")
{
    echo "LongCat edit LoRA, longcat_reference_timestep zero vs shared: held-out mean PSNR (dB) / SSIM"
    echo "model $MODEL; train $TRAIN; held-out $HELDOUT ($pairs pairs); $STEPS steps; ${EXTRA[*]:-default settings}"
    echo "base model (no LoRA): PSNR $(printf '%.3f' "$base_psnr"), SSIM $(printf '%.4f' "$base_ssim")"
    echo
    echo "| seed | zero PSNR | zero SSIM | shared PSNR | shared SSIM | shared - zero PSNR |"
    echo "|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${rows[@]}" | awk 'function f(x, digits) { return x == "inf" ? "inf" : sprintf("%." digits "f", x) }
    {
        d = ($4 == "inf" || $2 == "inf") ? "-" : sprintf("%+.3f", $4 - $2)
        printf "| %s | %s | %s | %s | %s | %s |\n", $1, f($2, 3), f($3, 4), f($4, 3), f($5, 4), d
        for (i = 2; i <= 5; i++) { if ($i == "inf") inf[i] = 1; else s[i] += $i }
        n++
    } END {
        for (i = 2; i <= 5; i++) m[i] = inf[i] ? "inf" : sprintf(i % 2 ? "%.4f" : "%.3f", s[i] / n)
        d = (inf[2] || inf[4]) ? "-" : sprintf("%+.3f", (s[4] - s[2]) / n)
        printf "| mean | %s | %s | %s | %s | %s |\n", m[2], m[3], m[4], m[5], d
    }'
} | tee "$WORK/table.md"
echo "compare_reference_timestep: table in $WORK/table.md; runs (LoRA, eval sheets, reports) under $WORK" >&2
