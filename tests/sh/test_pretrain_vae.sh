#!/bin/bash
# pretrain-vae: a few steps of both families write a VAE folder the loaders read, the same seed
# writes the same bytes, the report names the held-out PSNR/SSIM, and bad flags are usage errors.
# (How well a full pretraining reconstructs is measured by the pretraining itself, not here.)
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # tests/run.sh starts shell tests with sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
export OMP_NUM_THREADS=1

for fam in qwen_image longcat_image; do
    expect_ok "$BIN" pretrain-vae --family "$fam" --out "$d/$fam" --steps 3 --batch 2 --resolution 32 --warmup 1 \
        --eval-images 1 --log-every 1
    expect_grep "^step 3/3 "
    expect_grep "wrote .*/vae: $fam tiny VAE, [0-9]+ parameters"
    expect_grep "held-out reconstruction at 32x32 .*PSNR [0-9.]+ dB, SSIM"
    expect_grep "held-out reconstruction at 64x64 "
    check test -s "$d/$fam/vae/diffusion_pytorch_model.safetensors" -- "$fam: weights written"
    check grep -q '"_class_name"' "$d/$fam/vae/config.json" -- "$fam: config written"
done
expect_grep '"latents_std"' "$d/qwen_image/vae/config.json"
expect_grep '"scaling_factor"' "$d/longcat_image/vae/config.json"

# same seed, same bytes (whatever the thread count); another seed, other weights
OMP_NUM_THREADS=2 expect_ok "$BIN" pretrain-vae --family longcat_image --out "$d/again" --steps 3 --batch 2 \
    --resolution 32 --warmup 1 --eval-images 1 --quiet
expect_same_file "$d/longcat_image/vae/diffusion_pytorch_model.safetensors" "$d/again/vae/diffusion_pytorch_model.safetensors"
expect_ok "$BIN" pretrain-vae --family longcat_image --out "$d/other" --steps 3 --batch 2 --resolution 32 --warmup 1 \
    --eval-images 1 --quiet --seed 5
expect_diff_file "$d/longcat_image/vae/diffusion_pytorch_model.safetensors" "$d/other/vae/diffusion_pytorch_model.safetensors"

expect_fail -c 2 "$BIN" pretrain-vae --family sdxl --out "$d/x"
expect_grep "expected qwen_image, longcat_image"
expect_fail -c 2 "$BIN" pretrain-vae --family qwen_image --out "$d/x" --size huge
expect_grep "expected tiny or small"
expect_fail -c 2 "$BIN" pretrain-vae --family qwen_image --out "$d/x" --resolution 40
expect_grep "multiple of 16"
expect_fail -c 2 "$BIN" pretrain-vae --family qwen_image
expect_grep "out DIR is required"
expect_fail -c 2 "$BIN" pretrain-vae --family qwen_image --out "$d/x" --steps 0
expect_grep "steps expects an integer"
echo ok
