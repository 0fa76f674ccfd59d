#!/usr/bin/env bash
# tools/pretrain_tiny.sh — rebuilds the bundled tiny edit models (models/tiny/<folder>/) from a seed,
# with simpletuner alone: for each family
#   1. pretrain-vae     the family's VAE architecture on synthetic scenes
#   2. init-model       the small transformer and text encoder (random, seeded), the VAE of step 1
#   3. make-dataset     synthetic edit pairs of the known edits (recolour, move, add, remove,
#                       background, scale), instructions in varied words; a held-out set of
#                       another seed
#   4. train            model_type=full: the whole transformer learns the edits (the text encoder
#                       and VAE stay as they are)
#   5. eval             the held-out pairs at the tiny presets' validation settings: PSNR / SSIM
#   6. the folder, its model card (data, steps, commands, measured figures, sha256 of every file)
#
# usage: tools/pretrain_tiny.sh OUT [--family qwen_image|longcat_image] [--seed S] [--quick]
#                                   [--vae-from DIR]
#   OUT       receives OUT/<folder>/ (qwenimage_edit, longcat_edit) and OUT/work/ (logs, runs)
#   --vae-from  reuse DIR/vae (a pretrain-vae output of the family) instead of step 1 (experiments)
#   --quick   minutes instead of hours: few steps and pairs (the pipeline's test; the weights it
#             writes edit nothing)
# Environment: BIN (default build/simpletuner), OMP_NUM_THREADS (default 2), and the recipe's
# numbers VAE_STEPS, PAIRS, TRAIN_STEPS, BATCH, LR, HELDOUT (defaults below).
set -euo pipefail

usage() { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "pretrain_tiny: $*" >&2; exit 1; }
bad_usage() { echo "pretrain_tiny: $*" >&2; exit 2; }

[ $# -ge 1 ] || usage
OUT=$1; shift
FAMILIES="qwen_image longcat_image"
SEED=42
QUICK=0
VAE_FROM=
while [ $# -gt 0 ]; do
    case $1 in
        --family) [ $# -ge 2 ] || usage; FAMILIES=$2; shift 2 ;;
        --seed) [ $# -ge 2 ] || usage; SEED=$2; shift 2 ;;
        --quick) QUICK=1; shift ;;
        --vae-from) [ $# -ge 2 ] || usage; VAE_FROM=$(cd "$2" && pwd); shift 2 ;;
        -h|--help) usage ;;
        *) bad_usage "unknown option '$1' (--help lists them)" ;;
    esac
done
case $SEED in ''|*[!0-9]*) bad_usage "--seed '$SEED': expected a non-negative integer" ;; esac
for f in $FAMILIES; do
    case $f in qwen_image|longcat_image) ;; *) bad_usage "--family '$f': expected qwen_image or longcat_image" ;; esac
done

BIN=${BIN:-build/simpletuner}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
[ -x "$BIN" ] || die "$BIN: not built (make)"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

# The recipe. RES is the tiny presets' resolution; the eval settings are theirs too.
RES=128
if [ $QUICK = 1 ]; then
    VAE_STEPS=${VAE_STEPS:-4}; VAE_BATCH=4; VAE_EVAL=4; PAIRS=${PAIRS:-8}; TRAIN_STEPS=${TRAIN_STEPS:-4}; HELDOUT=${HELDOUT:-2}
else
    VAE_STEPS=${VAE_STEPS:-2500}; VAE_BATCH=32; VAE_EVAL=64; PAIRS=${PAIRS:-2000}; TRAIN_STEPS=${TRAIN_STEPS:-6000}; HELDOUT=${HELDOUT:-16}
fi
BATCH=${BATCH:-4}
LR=${LR:-5e-4}
for v in VAE_STEPS PAIRS TRAIN_STEPS BATCH HELDOUT; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || bad_usage "$v='${!v}': expected a positive integer"
done
[[ $LR =~ ^[0-9]*\.?[0-9]+(e-?[0-9]+)?$ ]] || bad_usage "LR='$LR': expected a learning rate such as 5e-4"
EVAL_STEPS=4
EVAL_GUIDANCE=1.0

mkdir -p "$OUT/work"
OUT=$(cd "$OUT" && pwd)
WORK=$OUT/work

# run LOG CMD...: the command's output to LOG; its last lines and the exit status on failure
run() {
    local log=$1; shift
    echo "  \$ ${*#"$BIN" }" | sed "s|$WORK/||g"
    if ! "$@" > "$log" 2>&1; then
        tail -n 20 "$log" >&2
        die "failed: $* (log: $log)"
    fi
}

pretrain_family() {
    local family=$1 flavour folder vae_args
    case $family in
        qwen_image) flavour=edit-v2; folder=qwenimage_edit; vae_args=() ;;
        longcat_image) flavour=edit; folder=longcat_edit; vae_args=(--no-mid-attention) ;;
    esac
    local w=$WORK/$family
    rm -rf "$w"; mkdir -p "$w"
    local t0=$SECONDS
    echo "== $family $flavour (seed $SEED) -> $OUT/$folder"

    if [ -n "$VAE_FROM" ]; then
        [ -f "$VAE_FROM/vae/config.json" ] || die "--vae-from $VAE_FROM: no vae/config.json"
        mkdir -p "$w/vae"; cp -r "$VAE_FROM/vae" "$w/vae/vae"
        echo "  (VAE from $VAE_FROM)"; : > "$w/vae.log"
    else
    run "$w/vae.log" "$BIN" pretrain-vae --family "$family" --out "$w/vae" --seed "$SEED" --steps "$VAE_STEPS" \
        --batch "$VAE_BATCH" --crop 32 --resolution 64 --full-every 16 --eval-images $VAE_EVAL --log-every 100 "${vae_args[@]}"
    fi
    run "$w/init.log" "$BIN" init-model --family "$family" --flavour "$flavour" --size small --seed "$SEED" \
        --out "$w/model" --set processor.max_pixels=12544
    rm -rf "$w/model/vae"
    cp -r "$w/vae/vae" "$w/model/vae"

    run "$w/data.log" "$BIN" make-dataset --kind edit-pairs --out "$w/pairs" --count "$PAIRS" --size ${RES}x$RES \
        --references 1 --seed "$SEED"
    run "$w/heldout.log" "$BIN" make-dataset --kind edit-pairs --out "$w/heldout" --count "$HELDOUT" --size ${RES}x$RES \
        --references 1 --seed $((SEED + 1000))
    cat > "$w/multidatabackend.json" <<JSON
[{"id": "pairs", "type": "local", "instance_data_dir": "$w/pairs/images", "caption_strategy": "textfile",
  "resolution": $RES, "resolution_type": "pixel_area", "cache_dir_vae": "$w/cache/vae/pairs", "conditioning_data": ["reference"]},
 {"id": "reference", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
  "instance_data_dir": "$w/pairs/reference", "resolution": $RES, "resolution_type": "pixel_area",
  "cache_dir_vae": "$w/cache/vae/reference"}]
JSON
    cat > "$w/config.json" <<JSON
{
  "model_type": "full",
  "model_family": "$family",
  "model_flavour": "$flavour",
  "pretrained_model_name_or_path": "$w/model",
  "output_dir": "$w/train",
  "data_backend_config": "$w/multidatabackend.json",
  "cache_dir": "$w/cache",
  "optimizer": "adamw_bf16",
  "learning_rate": $LR,
  "lr_scheduler": "cosine_with_restarts",
  "lr_num_cycles": 1,
  "lr_warmup_steps": 100,
  "max_train_steps": $TRAIN_STEPS,
  "num_train_epochs": 0,
  "train_batch_size": $BATCH,
  "caption_dropout_probability": 0.1,
  "checkpoint_step_interval": 1000,
  "checkpoints_total_limit": 1,
  "num_eval_images": 0,
  "validation_resolution": "${RES}x$RES",
  "validation_num_inference_steps": $EVAL_STEPS,
  "validation_guidance": $EVAL_GUIDANCE,
  "validation_seed": 42,
  "seed": $SEED,
  "resolution": $RES,
  "resolution_type": "pixel_area",
  "model_kwargs": { "match_target_res": true }
}
JSON
    run "$w/train.log" "$BIN" train --config "$w/config.json"
    cp "$w/train/transformer/diffusion_pytorch_model.safetensors" "$w/model/transformer/"

    run "$w/eval.log" "$BIN" eval --config "$w/config.json" --pretrained_model_name_or_path "$w/model" \
        --dataset "$w/heldout" --out "$w/eval" --json
    local psnr ssim vae_lo vae_hi
    psnr=$(sed -n 's/.*"mean_psnr":[[:space:]]*\([-0-9.e]*\).*/\1/p' "$w/eval.log" | head -n 1)
    ssim=$(sed -n 's/.*"mean_ssim":[[:space:]]*\([-0-9.e]*\).*/\1/p' "$w/eval.log" | head -n 1)
    vae_lo=$(grep -m1 'held-out reconstruction at 64x64' "$w/vae.log" | sed 's/.*: //')
    vae_hi=$(grep -m1 'held-out reconstruction at 128x128' "$w/vae.log" | sed 's/.*: //')
    [ -n "$psnr" ] || die "$w/eval.log: no mean_psnr in the eval report"
    psnr=$(printf '%.2f' "$psnr"); ssim=$(printf '%.4f' "$ssim")
    echo "  held-out edits at ${RES}x$RES: PSNR $psnr dB, SSIM $ssim ($(( SECONDS - t0 )) s for $family)"

    # the folder: model files only, written beside and renamed into place
    local dst=$OUT/$folder tmp=$OUT/$folder.tmp.$$
    rm -rf "$tmp"; cp -r "$w/model" "$tmp"
    write_card "$tmp" "$family" "$flavour" "$psnr" "$ssim" "$vae_lo" "$vae_hi" $(( SECONDS - t0 ))
    rm -rf "$dst"; mv "$tmp" "$dst"
}

# write_card DIR FAMILY FLAVOUR PSNR SSIM VAE64 VAE128 SECONDS: DIR/MODEL_CARD.md
write_card() {
    local dir=$1 family=$2 flavour=$3 psnr=$4 ssim=$5 vae_lo=$6 vae_hi=$7 secs=$8
    local version
    version=$(git -C "$(dirname "$0")" describe --always --dirty 2>/dev/null || echo unknown)
    {
        echo "# Tiny $family ($flavour) edit model (simpletuner.c)"
        echo
        echo "A few-MB edit model of the $family architecture, trained from scratch on synthetic edit pairs"
        echo "by tools/pretrain_tiny.sh. It knows the edits of \`simpletuner make-dataset\`'s default set"
        echo "(recolour, move, add, remove, background, scale) on ${RES}x$RES scenes of coloured shapes, and"
        echo "nothing else: it exists so that the tiny presets, make demo and the tests train and measure"
        echo "a model that really edits."
        echo
        echo "## How it was made"
        echo
        echo "- command: \`VAE_STEPS=$VAE_STEPS PAIRS=$PAIRS TRAIN_STEPS=$TRAIN_STEPS BATCH=$BATCH LR=$LR HELDOUT=$HELDOUT tools/pretrain_tiny.sh OUT --family $family --seed $SEED$([ $QUICK = 1 ] && echo ' --quick')$([ -n "$VAE_FROM" ] && echo " --vae-from $VAE_FROM")\`"
        echo "- simpletuner.c commit: $version; OMP_NUM_THREADS=$OMP_NUM_THREADS; $secs s in all"
        if [ -n "$VAE_FROM" ]; then
            echo "- VAE: copied from $VAE_FROM/vae (\`--vae-from\`: an earlier \`pretrain-vae\` run, not rebuilt by this command)"
        else
            echo "- VAE: \`pretrain-vae\`, $VAE_STEPS steps of batch $VAE_BATCH (32-px crops of 64/128-px renders, one whole 128-px render in 16)"
        fi
        echo "- transformer and text encoder: \`init-model --size small --seed $SEED --set processor.max_pixels=12544\`;"
        echo "  the transformer then trained in full ($TRAIN_STEPS steps, batch $BATCH, AdamW lr $LR, warmup then cosine to 0, caption"
        echo "  dropout 0.1) on $PAIRS pairs of \`make-dataset --kind edit-pairs --references 1 --seed $SEED\`"
        echo "  at ${RES}x$RES; the text encoder and VAE stay frozen"
        echo
        echo "## Measured"
        echo
        echo "- VAE reconstruction of held-out scenes: 64x64 $vae_lo; 128x128 $vae_hi"
        echo "- held-out edits ($HELDOUT pairs of seed $((SEED + 1000)), ${RES}x$RES, $EVAL_STEPS steps, guidance $EVAL_GUIDANCE):"
        echo "  PSNR $psnr dB, SSIM $ssim (\`simpletuner eval\` against the targets)"
        echo
        echo "## Files (sha256)"
        echo
        echo '```'
        (cd "$dir" && find . -type f ! -name 'MODEL_CARD.md*' | LC_ALL=C sort | sed 's|^\./||' | xargs sha256sum)
        echo '```'
    } > "$dir/MODEL_CARD.md.tmp"
    mv "$dir/MODEL_CARD.md.tmp" "$dir/MODEL_CARD.md"
}

for f in $FAMILIES; do pretrain_family "$f"; done
echo "done: the model folders and their MODEL_CARD.md are in $OUT (runs and logs: $WORK)"
