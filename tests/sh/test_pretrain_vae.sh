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
    expect_grep "^flat backgrounds at 64x64 \(7 named colours, each filling the image\): mean PSNR [0-9.]+ dB, worst [0-9.]+ dB \((light blue|pink|grey|beige|light green|lavender|white)\)$"
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

# --full-every: whole 2R renders among the crops (threads take them as they come: same bytes with
# 1 and 2 threads), and they change the training
for t in 1 2; do
    OMP_NUM_THREADS=$t expect_ok "$BIN" pretrain-vae --family qwen_image --out "$d/full$t" --steps 2 --batch 4 \
        --resolution 32 --crop 16 --full-every 2 --warmup 1 --eval-images 1 --quiet
done
expect_same_file "$d/full1/vae/diffusion_pytorch_model.safetensors" "$d/full2/vae/diffusion_pytorch_model.safetensors"
expect_ok "$BIN" pretrain-vae --family qwen_image --out "$d/crops" --steps 2 --batch 4 --resolution 32 --crop 16 \
    --warmup 1 --eval-images 1 --quiet
expect_diff_file "$d/full1/vae/diffusion_pytorch_model.safetensors" "$d/crops/vae/diffusion_pytorch_model.safetensors"
expect_fail -c 2 "$BIN" pretrain-vae --family qwen_image --out "$d/x" --full-every -1
expect_grep "full-every"

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
# the widths and recipe knobs reach the written config and the weights
expect_ok "$BIN" pretrain-vae --family qwen_image --out "$d/wide" --steps 2 --batch 2 --resolution 32 --crop 16 \
    --big-every 0 --warmup 1 --eval-images 1 --quiet --channels 8,16,32,32 --blocks 2 --beta2 0.95
expect_grep '"base_dim":[[:space:]]*8,' "$d/wide/vae/config.json"
expect_grep '"num_res_blocks":[[:space:]]*2,' "$d/wide/vae/config.json"
check grep -Pzq '"dim_mult":\s*\[1,\s*2,\s*4,\s*4\]' "$d/wide/vae/config.json" -- "dim_mult from --channels"
expect_ok "$BIN" pretrain-vae --family qwen_image --out "$d/wide0" --steps 2 --batch 2 --resolution 32 --crop 16 \
    --big-every 0 --warmup 1 --eval-images 1 --quiet --channels 8,16,32,32 --blocks 2 --beta2 0.95 --zero-init
expect_diff_file "$d/wide/vae/diffusion_pytorch_model.safetensors" "$d/wide0/vae/diffusion_pytorch_model.safetensors"
expect_ok "$BIN" pretrain-vae --family longcat_image --out "$d/groups" --steps 2 --batch 2 --resolution 32 --warmup 1 \
    --eval-images 1 --quiet --channels 8,16,16,16 --groups 4
expect_grep '"norm_num_groups":[[:space:]]*4,' "$d/groups/vae/config.json"
check grep -Pzq '"block_out_channels":\s*\[8,\s*16,\s*16,\s*16\]' "$d/groups/vae/config.json" -- "block_out_channels from --channels"
# --no-mid-attention: the FLUX-layout config says so (and the VAE loads and runs without it); the Wan
# VAE has no such switch
expect_ok "$BIN" pretrain-vae --family longcat_image --out "$d/nomid" --steps 2 --batch 2 --resolution 32 --warmup 1 \
    --eval-images 1 --quiet --no-mid-attention
expect_grep '"mid_block_add_attention":[[:space:]]*false' "$d/nomid/vae/config.json"
expect_grep "held-out reconstruction at 64x64 "
expect_fail -c 2 "$BIN" pretrain-vae --family qwen_image --out "$d/x" --no-mid-attention
expect_grep "no-mid-attention: the qwen_image VAE \(AutoencoderKLQwenImage\) always has its mid-block attention"
expect_fail -c 2 "$BIN" pretrain-vae --family qwen_image --out "$d/x" --channels 8,12,16,16
expect_grep "needs even multiples of the first"
expect_fail -c 2 "$BIN" pretrain-vae --family longcat_image --out "$d/x" --channels 8,16,16,16 --groups 3
expect_grep "multiple of norm_num_groups"
expect_fail -c 2 "$BIN" pretrain-vae --family qwen_image --out "$d/x" --channels 8,16
expect_grep "channels expects 4 comma-separated counts"
expect_fail -c 2 "$BIN" pretrain-vae --family qwen_image --out "$d/x" --resolution 32 --crop 24
expect_grep "crop 24: expected a multiple of 16"
expect_fail -c 2 "$BIN" pretrain-vae --family qwen_image --out "$d/x" --beta2 1
expect_grep "beta2 1: expected a number in"
expect_no_path "$d/x"
echo ok
