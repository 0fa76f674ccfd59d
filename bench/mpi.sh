#!/usr/bin/env bash
# Data-parallel scaling (issue 20): optimizer steps per second of one process with a global batch
# of 2 against mpirun -np 2 with train_batch_size 1 (the same global batch), one OpenMP thread per
# rank, on a `small` init-model model. Efficiency = speed-up / ranks (goal >= 85% on 2 cores).
# A benchmark, not a test: figures depend on the machine's load.
set -euo pipefail
BIN=${BIN:-build/simpletuner}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
STEPS=${STEPS:-12}
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
cd "$d"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
"$BIN" init-model --family qwen_image --size small --out model > /dev/null
"$BIN" make-dataset --kind edit-pairs --out ds --count 8 --size 128x128 > /dev/null
cat > mdb.json <<JSON
[{"id": "edits", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile", "resolution": 128,
  "resolution_type": "pixel_area", "conditioning_data": ["refs"]},
 {"id": "refs", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
  "instance_data_dir": "ds/reference", "resolution": 128}]
JSON
cat > config.json <<JSON
{"model_type": "lora", "model_family": "qwen_image", "model_flavour": "edit-v2", "pretrained_model_name_or_path": "model",
 "data_backend_config": "mdb.json", "optimizer": "adamw_bf16", "learning_rate": 1e-4, "seed": 1, "lora_rank": 16,
 "max_train_steps": $STEPS, "validation_disable": true, "checkpoint_step_interval": 1000, "cache_dir": "cache"}
JSON
"$BIN" cache --config config.json train_batch_size=2 > /dev/null 2>&1
rate() {   # steps/s over the steps after the first (warm-up), from the step lines' it/s of the last step
    grep -E "^step $STEPS/$STEPS" "$1" | sed -E 's/.*  ([0-9.]+) (it\/s|s\/it).*/\1 \2/' |
        awk '{print ($2 == "s/it") ? 1 / $1 : $1}'
}
"$BIN" train --config config.json output_dir=one train_batch_size=2 > one.log 2>&1
mpirun --oversubscribe -np 2 --bind-to none "$BIN" train --config config.json output_dir=two train_batch_size=1 > two.log 2>&1
r1=$(rate one.log); r2=$(rate two.log)
awk -v a="$r1" -v b="$r2" 'BEGIN {
    printf "1 rank  x 1 thread, batch 2:          %.3f steps/s\n", a
    printf "2 ranks x 1 thread, batch 1 per rank: %.3f steps/s\n", b
    printf "speed-up %.2fx, scaling efficiency %.0f%%\n", b / a, 100 * b / a / 2 }'
