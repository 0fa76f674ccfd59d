#!/bin/sh
# Real scale on one machine: LoRA training memory and step time of the published transformers,
# measured on full-width models of 2 and 4 blocks (Qwen-Image: transformer blocks; LongCat: a unit
# of 1 double + 2 single blocks, so 2 and 4 units are 2+4 and 4+8 blocks) loaded the way `train`
# loads them (mapped bf16 checkpoint, base quantised tensor by tensor), and extrapolated to the
# published depth (Qwen-Image-Edit 60 blocks, LongCat-Image-Edit 10 double + 20 single = 10 units).
# The step: an edit at SIZE² with one reference of the same size (2·(SIZE/16)² image tokens), 128
# text tokens, LoRA rank 16, gradient checkpointing, PREC base.
#   peak = peak(2) + (depth − 2)·slope, slope = (peak(4) − peak(2)) / 2 per block (unit)
#   time = time(4)·depth / 4 (the embedders and the head are a fraction of a block)
# Slow and big: every step is full width (minutes under load), up to ~8 GB of memory, models of
# 1.3–5 GB in $TMPDIR. Run it alone on a quiet machine. A benchmark, never a test.
# Env: BIN (build/simpletuner), PREC (nf4; bf16 int8 fp8 too), SIZES ("512 768 1024"),
#      FAMILIES ("qwen_image longcat_image"), THREADS (2), TMPDIR; DIM/HEADS (3072/24) only to try the
#      script itself on narrow models.
set -eu
BIN=${BIN:-build/simpletuner}
PREC=${PREC:-nf4}
SIZES=${SIZES:-"512 768 1024"}
FAMILIES=${FAMILIES:-"qwen_image longcat_image"}
THREADS=${THREADS:-2}
DIM=${DIM:-3072}
HEADS=${HEADS:-24}
work=$(mktemp -d "${TMPDIR:-/tmp}/st_fullsize_XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# number PATTERN LINE: the number matched by the (.*) group of PATTERN in a bench line
number() { echo "$2" | sed -E "s|$1|\\1|"; }

echo "| model | base | edit + reference | peak RSS, 2 blocks | 4 blocks | per block | extrapolated peak | step time (extrapolated) | GFLOP/s | sgemm ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for fam in $FAMILIES; do
    if [ "$fam" = qwen_image ]; then depth=60; name="Qwen-Image-Edit (60 blocks)"; else depth=10; name="LongCat-Image-Edit (10+20 blocks)"; fi
    for size in $SIZES; do
        tok=$(( (size / 16) * (size / 16) ))
        for n in 2 4; do
            model="$work/${fam}_$n"
            if [ -d "$model" ]; then src="--model $model"
            elif [ "$fam" = qwen_image ]; then src="--save-model $model --dim $DIM --heads $HEADS --layers $n"
            else src="--save-model $model --dim $DIM --heads $HEADS --layers $n --single $((2 * n))"; fi
            out=$("$BIN" bench train-step --family "$fam" $src --img $tok --ref $tok --txt 128 --rank 16 --steps 0 \
                  --threads "$THREADS" --precision "$PREC" --checkpointing)
            echo "$out" >&2
            eval "peak$n=$(number '.*peak RSS ([0-9.]+) MiB.*' "$out")"
            eval "ms$n=$(number '.* ([0-9.]+) ms/step.*' "$out")"
            eval "gf$n=$(number '.*ms/step, ([0-9.]+) GFLOP/s.*' "$out")"
            eval "ratio$n=$(number '.*ratio ([0-9.]+).*' "$out")"
        done
        # shellcheck disable=SC2154  # set by eval above
        awk -v name="$name" -v prec="$PREC" -v size="$size" -v p2="$peak2" -v p4="$peak4" -v t4="$ms4" -v d="$depth" \
            -v gf="$gf4" -v r="$ratio4" 'BEGIN {
            slope = (p4 - p2) / 2; peak = p2 + (d - 2) * slope; t = t4 * d / 4 / 1000;
            printf "| %s | %s | %d² + %d² | %.0f MiB | %.0f MiB | %.0f MiB | %.1f GiB | %.0f s | %.0f | %.2f |\n",
                   name, prec, size, size, p2, p4, slope, peak / 1024, t, gf, r }'
    done
    rm -rf "$work/${fam}_2" "$work/${fam}_4"
done
