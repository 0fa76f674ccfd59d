#!/bin/bash
# bench train-step runs both families the way train loads them (a streamed random checkpoint in a
# temporary folder that is removed, or a model folder), reports speed, the sgemm ratio and memory,
# keeps a model with --save-model for later --model runs, and names bad arguments. Never timed.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
cd "$d"
export OMP_NUM_THREADS=2
mkdir tmp
export TMPDIR=$d/tmp
small="--dim 64 --heads 2 --img 16 --ref 16 --txt 8 --rank 4 --steps 1"
line='ms/step, [0-9.]+ GFLOP/s, sgemm 40x256x64 [0-9.]+ GFLOP/s, ratio [0-9.]+, RSS after loading [0-9.]+ MiB, peak RSS [0-9.]+ MiB'
expect_ok "$BIN" bench train-step $small --layers 2 --precision nf4 --checkpointing
expect_grep "^train-step qwen_image dim 64 heads 2 blocks 2 img 16 ref 16 txt 8 rank 4 precision nf4 checkpointing: [0-9.]+ $line\$"
check test -z "$(ls tmp)" -- "the temporary model folder is removed"
expect_ok "$BIN" bench train-step --family longcat_image $small --layers 1 --precision int8
expect_grep "^train-step longcat_image dim 64 heads 2 blocks 3 img 16 ref 16 txt 8 rank 4 precision int8: [0-9.]+ $line\$"
# a kept model, then read back: the same sizes, one step without warm-up
expect_ok "$BIN" bench train-step --family longcat_image $small --layers 1 --single 3 --save-model kept
check test -f kept/config.json -- "--save-model keeps config.json"
check test -f kept/diffusion_pytorch_model.safetensors -- "--save-model keeps the checkpoint"
expect_ok "$BIN" bench train-step --family longcat_image --model kept --img 16 --txt 8 --steps 0 --precision fp8
expect_grep "^train-step longcat_image dim 64 heads 2 blocks 4 img 16 ref 0 txt 8 rank 16 precision fp8: "
# a model folder made by init-model (its transformer/)
"$BIN" init-model --family qwen_image --size tiny --out tiny > /dev/null
expect_ok "$BIN" bench train-step --model tiny --img 16 --txt 8 --steps 1 --checkpointing
expect_grep "^train-step qwen_image dim 32 heads 2 blocks 2 img 16 ref 0 txt 8 rank 16 precision bf16 checkpointing: "
# bad arguments
expect_fail -c 2 "$BIN" bench train-step --model tiny --dim 64
expect_grep "with --model DIR the sizes are the folder's"
expect_fail -c 2 "$BIN" bench train-step --model tiny --save-model x
expect_grep "give one of them"
expect_fail -c 2 "$BIN" bench train-step --save-model kept
expect_grep "kept exists and is not empty"
expect_fail -c 2 "$BIN" bench train-step --single 2
expect_grep "\-\-single applies to \-\-family longcat_image"
expect_fail -c 2 "$BIN" bench train-step --family flux
expect_grep "'flux' is not one of qwen_image, longcat_image"
expect_fail -c 2 "$BIN" bench train-step --steps -1
expect_grep "\-\-steps expects a non-negative integer, got '-1'"
expect_fail "$BIN" bench train-step --model nowhere
expect_grep "nowhere"

# the bench programs beside the binary (make test builds them): each runs at its smallest size
# and refuses arguments it cannot use
B=$(dirname "$BIN")/bench
for p in attention_bench vae_bench qwenvl_bench; do check test -x "$B/$p" -- "$B/$p is built (make test builds bench/*.c)"; done
expect_ok "$B/attention_bench" 64 2 16 1
expect_grep "^attention S=64 H=2 D=16 .*forward [0-9.]+ ms .*ratios [0-9.]+ [0-9.]+$"
expect_ok "$B/vae_bench" qwen encode 32
expect_grep "^qwen +encode +32x32 +[0-9]+ ms +peak RSS"
expect_ok "$B/vae_bench" flux decode 32
expect_grep "^flux +decode +32x32 +[0-9]+ ms +peak RSS"
expect_fail -c 2 "$B/vae_bench" qwen_image encode 32
expect_grep "expected qwen\|flux, encode\|decode and a SIZE"
expect_fail -c 2 "$B/vae_bench" flux decode 30
expect_fail -c 2 "$B/attention_bench" 0 2 16
expect_fail -c 2 "$B/qwenvl_bench" 29
expect_ok "$B/qwenvl_bench" 1 1
expect_grep "^  measured: +vision [0-9.]+ s +language [0-9.]+ s"
echo ok
