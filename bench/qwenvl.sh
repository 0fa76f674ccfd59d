#!/bin/sh
# Qwen2.5-VL-7B text encoder: one instruction + one 384²-area image (Qwen-Image-Edit-2509 sizes),
# seeded random bf16 weights. Default: 4 of 28 LM layers and 8 of 32 vision blocks, extrapolated
# per layer to the full model (the full model needs ~15 GiB and minutes on 2 cores).
#   sh bench/qwenvl.sh [LM_LAYERS [VISION_BLOCKS]]
BUILD=${BUILD:-build}
make --no-print-directory "$BUILD/bench/qwenvl_bench" >/dev/null || exit 1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
"$BUILD/bench/qwenvl_bench" ${1:-4} ${2:-8}
