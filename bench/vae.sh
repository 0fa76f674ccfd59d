#!/bin/sh
# VAE benchmark: encode and decode, both families, full-size configs with seeded random bf16
# weights; one process per measurement so each peak RSS is that operation's own.
#   sh bench/vae.sh [SIZES]      (default "512 1024"; each 1024 run takes minutes on 2 cores)
BUILD=${BUILD:-build}
make --no-print-directory "$BUILD/bench/vae_bench" >/dev/null || exit 1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
for size in ${1:-512 1024}; do
    for fam in qwen flux; do
        for op in encode decode; do "$BUILD/bench/vae_bench" $fam $op $size || exit 1; done
    done
done
