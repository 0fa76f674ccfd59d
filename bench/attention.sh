#!/bin/sh
# Attention kernels against a plain sgemm in the same process (bench/attention_bench.c): a Qwen-Image
# 512² edit with one 512² reference and 128 text tokens (S 2176, 24 heads of 128), and a tiny-model
# sequence. The ratios say what the tiling costs against the machine's GEMM speed.
BUILD=${BUILD:-build}
make --no-print-directory "$BUILD/bench/attention_bench" >/dev/null || exit 1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
"$BUILD/bench/attention_bench" 2176 24 128 3 || exit 1
"$BUILD/bench/attention_bench" 384 4 32 5 || exit 1
