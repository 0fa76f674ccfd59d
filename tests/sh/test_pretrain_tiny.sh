#!/bin/bash
# tools/pretrain_tiny.sh (the recipe of the shipped tiny models), in its --quick form: every stage
# runs for both families (VAE pretraining, init-model, datasets, full transformer training, eval on a
# held-out set) and leaves a model folder the trainer loads, whose model card names the command, the
# measured figures and a sha256 of every file that checks out. Bad arguments stop it before any work.
# (How well the full recipe edits is measured by the recipe itself and by test_tiny_models.sh.)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # tests/run.sh starts shell tests with sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
export OMP_NUM_THREADS=2

BIN=$BIN expect_ok "$ROOT/tools/pretrain_tiny.sh" "$d/out" --quick --seed 7
for folder in qwenimage_edit longcat_edit; do
    m=$d/out/$folder
    expect_file "$m/model_index.json" "$m/transformer/diffusion_pytorch_model.safetensors" "$m/vae/config.json" \
        "$m/text_encoder/model.safetensors" "$m/tokenizer/tokenizer.json" "$m/MODEL_CARD.md"
    expect_grep "tools/pretrain_tiny.sh OUT --family [a-z_]+ --seed 7 --quick" "$m/MODEL_CARD.md"
    expect_grep "PSNR [0-9]+\.[0-9]{2} dB, SSIM [0-9.]+ " "$m/MODEL_CARD.md"
    # the card's sha256 list covers every file and checks out
    sed -n '/^```$/,/^```$/p' "$m/MODEL_CARD.md" | grep -v '^```' > "$d/sums"
    expect_eq "$(wc -l < "$d/sums")" "$(cd "$m" && find . -type f ! -name MODEL_CARD.md | wc -l)" "$folder: files in the card"
    (cd "$m" && sha256sum --quiet -c "$d/sums") || fail "$folder: sha256 of the card"
done
# the shipped transformer is the trained one, the VAE the pretrained one
expect_same_file "$d/out/work/qwen_image/train/transformer/diffusion_pytorch_model.safetensors" \
    "$d/out/qwenimage_edit/transformer/diffusion_pytorch_model.safetensors"
expect_same_file "$d/out/work/longcat_image/vae/vae/diffusion_pytorch_model.safetensors" \
    "$d/out/longcat_edit/vae/diffusion_pytorch_model.safetensors"
expect_grep '"mid_block_add_attention":[[:space:]]*false' "$d/out/longcat_edit/vae/config.json"
expect_grep '"_class_name":[[:space:]]*"LongCatImageEditPipeline"' "$d/out/longcat_edit/model_index.json"

# the folder is a model the product loads: a short LoRA run on it
"$BIN" make-dataset --kind edit-pairs --out "$d/ds" --count 2 --size 64x64 > /dev/null
cat > "$d/mdb.json" <<JSON
[{"id": "e", "type": "local", "instance_data_dir": "$d/ds/images", "caption_strategy": "textfile", "resolution": 64,
  "cache_dir_vae": "$d/cache/e", "conditioning_data": ["r"]},
 {"id": "r", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
  "instance_data_dir": "$d/ds/reference", "resolution": 64, "cache_dir_vae": "$d/cache/r"}]
JSON
expect_ok "$BIN" train model_family=longcat_image model_flavour=edit pretrained_model_name_or_path="$d/out/longcat_edit" \
    max_train_steps=2 num_train_epochs=0 num_eval_images=0 output_dir="$d/lora" data_backend_config="$d/mdb.json" \
    cache_dir="$d/cache" lora_rank=4 model_type=lora optimizer=adamw_bf16 train_batch_size=1
expect_file "$d/lora/pytorch_lora_weights.safetensors"

expect_fail -c 2 "$ROOT/tools/pretrain_tiny.sh" "$d/bad" --family sdxl
expect_grep "family 'sdxl': expected qwen_image or longcat_image"
expect_fail -c 2 "$ROOT/tools/pretrain_tiny.sh" "$d/bad" --seed x
expect_grep "seed 'x': expected a non-negative integer"
expect_fail -c 2 "$ROOT/tools/pretrain_tiny.sh" "$d/bad" --frobnicate
expect_grep "unknown option '--frobnicate'"
expect_fail -c 2 env TRAIN_STEPS=0 "$ROOT/tools/pretrain_tiny.sh" "$d/bad"
expect_grep "TRAIN_STEPS='0': expected a positive integer"
expect_fail -c 2 env LR=fast "$ROOT/tools/pretrain_tiny.sh" "$d/bad" --quick
expect_grep "LR='fast': expected a learning rate"
expect_no_path "$d/bad"
echo ok
