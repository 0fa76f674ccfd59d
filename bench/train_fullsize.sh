#!/bin/sh
# The real `simpletuner train` path at full width: init-model folders with the published widths and
# 2 and 4 transformer blocks (LongCat: 2+4 and 4+8; the text encoder cut to TEXT_LAYERS layers, it only
# encodes the prompt), one edit pair with a reference at SIZE², base_model_precision PREC, gradient
# checkpointing, STEPS LoRA steps, no validation. Prints train's own "peak memory" line for both
# depths and the per-block slope: what the step costs per block, including everything train keeps
# that bench train-step does not (caches, data, text encoder and VAE while they are loaded).
# Slow (full-width models of 1.3–5 GB are written first) and big; run it alone. Never a test.
# Env: BIN, FAMILY (qwen_image | longcat_image), PREC (nf4-bnb), SIZE (512), STEPS (1), TEXT_LAYERS (1),
#      TMPDIR. The work folder is removed at the end (KEEP=1 keeps it and prints its path).
set -eu
BIN=$(cd "$(dirname "${BIN:-build/simpletuner}")" && pwd)/$(basename "${BIN:-build/simpletuner}")
TOK=$(pwd)/tests/data/qwen_tokenizer
FAMILY=${FAMILY:-qwen_image}
PREC=${PREC:-nf4-bnb}
SIZE=${SIZE:-512}
STEPS=${STEPS:-1}
TEXT_LAYERS=${TEXT_LAYERS:-1}
work=$(mktemp -d "${TMPDIR:-/tmp}/st_trainfull_XXXXXX")
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT INT TERM; else echo "work folder: $work"; fi
cd "$work"
if [ "$FAMILY" = qwen_image ]; then flavour=edit-v2; else flavour=edit; fi
"$BIN" make-dataset --kind edit-pairs --out ds --count 1 --size "${SIZE}x${SIZE}" > /dev/null
cat > multidatabackend.json <<JSON
[
  {"id": "edits", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile",
   "resolution": $SIZE, "resolution_type": "pixel_area", "conditioning_data": ["refs"], "cache_dir_vae": "cache/vae/edits"},
  {"id": "refs", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
   "instance_data_dir": "ds/reference", "resolution": $SIZE, "cache_dir_vae": "cache/vae/refs"}
]
JSON
for n in 2 4; do
    "$BIN" init-model --family "$FAMILY" --flavour $flavour --size full --tokenizer "$TOK" --layers $n \
        --text-layers "$TEXT_LAYERS" --weights --out "m$n" > /dev/null
    cat > "config$n.json" <<JSON
{
  "model_type": "lora", "model_family": "$FAMILY", "model_flavour": "$flavour",
  "pretrained_model_name_or_path": "m$n", "output_dir": "out$n", "data_backend_config": "multidatabackend.json",
  "base_model_precision": "$PREC", "gradient_checkpointing": true,
  "optimizer": "adamw_bf16", "learning_rate": 1e-4, "lr_scheduler": "constant", "lora_rank": 16,
  "max_train_steps": $STEPS, "num_train_epochs": 0, "train_batch_size": 1, "seed": 1,
  "num_eval_images": 0, "checkpoint_step_interval": 1000, "caption_dropout_probability": 0.0
}
JSON
    "$BIN" train --config "config$n.json" > "train$n.log" 2>&1 || { cat "train$n.log"; exit 1; }
    rm -rf cache "m$n"
    peak=$(sed -nE 's/^peak memory: ([0-9.]+) MiB resident$/\1/p' "train$n.log")
    echo "$FAMILY $PREC ${SIZE}² edit + reference, $n blocks: peak memory $peak MiB"
    eval "peak$n=$peak"
done
# shellcheck disable=SC2154  # set by eval above
awk -v a="$peak2" -v b="$peak4" 'BEGIN { printf "per block: %.0f MiB\n", (b - a) / 2 }'
