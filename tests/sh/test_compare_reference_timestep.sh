#!/usr/bin/env bash
# tools/compare_reference_timestep.sh (issue 24's measurement) runs on a LongCat edit model folder:
# per seed the same LoRA trained with longcat_reference_timestep zero and shared, each evaluated on a
# held-out folder, and a table of the eval reports' mean PSNR/SSIM (with their mean over seeds).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
ROOT=$(pwd)
MODEL=$ROOT/tests/data/models/longcat_edit
st_workdir
cd "$ST_DIR"
"$BIN" make-dataset --kind edit-pairs --out train --count 2 --size 64x64 --seed 1 > /dev/null
"$BIN" make-dataset --kind edit-pairs --out heldout --count 2 --size 64x64 --seed 2 > /dev/null
run_log table.txt bash "$ROOT/tools/compare_reference_timestep.sh" --bin "$BIN" --model "$MODEL" --train train --heldout heldout \
    --work work --seeds "3 4" --steps 2 resolution=64 validation_resolution=64x64 validation_num_inference_steps=2
N='[0-9]+\.[0-9]+'
expect_grep "^base model \(no LoRA\): PSNR $N, SSIM $N$" table.txt
expect_grep -F "| seed | zero PSNR | zero SSIM | shared PSNR | shared SSIM | shared - zero PSNR |" table.txt
expect_grep "^\| 3 \| $N \| $N \| $N \| $N \| [+-]$N \|$" table.txt
expect_grep "^\| 4 \| $N \| $N \| $N \| $N \| [+-]$N \|$" table.txt
expect_grep "^\| mean \| $N \| $N \| $N \| $N \| [+-]$N \|$" table.txt
expect_same_file work/table.md <(grep -v '^compare_reference_timestep:' table.txt)
# the rows are the eval reports' means
psnr=$(sed -n 's/.*"mean_psnr":[[:space:]]*\([^,]*\),.*/\1/p' work/shared-seed4/eval/report.json)
expect_grep -F "| $(printf '%.3f' "$psnr") |" table.txt
expect_grep -F "longcat_reference_timestep=shared:" work/shared-seed4.train.log
expect_grep -F "longcat_reference_timestep=zero:" work/zero-seed4.train.log
expect_diff_file work/zero-seed3/pytorch_lora_weights.safetensors work/shared-seed3/pytorch_lora_weights.safetensors
expect_diff_file work/shared-seed3/pytorch_lora_weights.safetensors work/shared-seed4/pytorch_lora_weights.safetensors
expect_file work/zero-seed3/eval/sheet.png work/base/eval/report.json
expect_fail -c 2 bash "$ROOT/tools/compare_reference_timestep.sh" --model "$MODEL" --train train
expect_grep -F "compare_reference_timestep: --heldout is required"
echo ok
