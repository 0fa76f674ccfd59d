#!/usr/bin/env bash
# Data-parallel training over Open MPI (issue 20): `mpirun -np 2` with train_batch_size 1 trains as
# one process with train_batch_size 2 (per-step losses and the final LoRA within 1e-5); a rank
# killed mid-run stops both ranks promptly, and the checkpoint before it resumes with one process.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
MODEL=$(pwd)/tests/data/models/qwenimage_edit
if ! command -v mpirun > /dev/null; then echo "SKIP: mpirun not installed (make deps installs openmpi-bin)"; exit 77; fi
st_workdir
cd "$ST_DIR"
# the tiny edit weights as an edit-v2 (QwenImageEditPlusPipeline) folder
st_model_copy "$MODEL" model_v2 QwenImageEditPlusPipeline
MODEL=$ST_DIR/model_v2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm_rsh_agent= OMP_NUM_THREADS=1
# Under SANITIZE=1, LeakSanitizer reports what Open MPI's dlopened components and hwloc keep until exit
# (by design, in frames of unloaded modules that no suppression can name): the ranks run without leak
# detection; the same training path is leak-checked single-process by the other tests.
MPIRUN=(mpirun --oversubscribe -np 2 --mca btl self,vader --bind-to none -x LSAN_OPTIONS=detect_leaks=0)

"$BIN" make-dataset --kind edit-pairs --out ds --count 4 --size 64x64 > /dev/null
cat > multidatabackend.json <<JSON
[
  {"id": "edits", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile",
   "resolution": 64, "resolution_type": "pixel_area", "conditioning_data": ["refs"], "cache_dir_vae": "cache/vae/edits"},
  {"id": "refs", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
   "instance_data_dir": "ds/reference", "resolution": 64, "cache_dir_vae": "cache/vae/refs"}
]
JSON
cat > config.json <<JSON
{"model_type": "lora", "model_family": "qwen_image", "model_flavour": "edit-v2", "pretrained_model_name_or_path": "$MODEL",
 "data_backend_config": "multidatabackend.json", "optimizer": "adamw_bf16", "learning_rate": 1e-3, "lr_scheduler": "constant",
 "seed": 5, "lora_rank": 4, "max_train_steps": 4, "validation_disable": true, "caption_dropout_probability": 0.0,
 "checkpoint_step_interval": 2, "cache_dir": "cache"}
JSON

# the floats of a safetensors file's data block, one per line (both files share one header)
floats() { local hl; hl=$(od -An -t u8 -N 8 "$1" | tr -d ' '); od -An -v -t f4 -j $((8 + hl)) "$1" | tr -s ' ' '\n' | sed '/^$/d'; }
close() {   # close A B: every value of A within 1e-5 (relative, 1e-7 absolute floor) of B
    paste "$1" "$2" | awk '{d = $1 - $2; if (d < 0) d = -d; m = ($1 < 0 ? -$1 : $1); if (d > 1e-5 * m + 1e-7) bad++} END {exit bad > 0}'
}

expect_ok "$BIN" train --config config.json output_dir=one train_batch_size=2
expect_ok "${MPIRUN[@]}" "$BIN" train --config config.json output_dir=two train_batch_size=1
expect_grep -F "data parallel: 2 ranks x 1 threads; effective batch = train_batch_size 1 x 2 ranks x gradient_accumulation_steps 1 = 2"
expect_grep -F "trained 4 steps"
check test "$(grep -c 'trained 4 steps' "$ST_OUT")" = 1 -- "rank 0 alone reports"
# the same steps, the same losses
cut -d, -f3 one/training_log.csv | sed 1d > l1; cut -d, -f3 two/training_log.csv | sed 1d > l2
check test "$(wc -l < l2)" = 4 -- "four steps logged once (rank 0 writes)"
check close l1 l2 -- "per-step losses of 2 ranks x batch 1 equal one process with batch 2"
floats one/pytorch_lora_weights.safetensors > w1; floats two/pytorch_lora_weights.safetensors > w2
check test "$(wc -l < w1)" -gt 100 -- "LoRA read"
check close w1 w2 -- "final LoRA of 2 ranks equals one process"
# the caches were built once, the misses split: a second run reuses them all
expect_ok "${MPIRUN[@]}" "$BIN" train --config config.json output_dir=three train_batch_size=1 max_train_steps=1
expect_grep -F "caches: 8 VAE latents reused, 0 computed; 4 prompt embeddings reused, 0 computed"

# a rank killed mid-run: both stop promptly; the checkpoint before resumes with one process
start=$(date +%s)
rc=0
SIMPLETUNER_CRASH_AT="step 3 backward" SIMPLETUNER_CRASH_RANK=1 timeout 120 "${MPIRUN[@]}" "$BIN" train --config config.json \
    output_dir=four train_batch_size=1 > kill.log 2>&1 || rc=$?
check test "$rc" != 0 -- "a dead rank fails the job"
check test "$rc" != 124 -- "no hang in a collective"
check test $(( $(date +%s) - start )) -lt 100 -- "stopped promptly"
expect_grep -i "rank 1|process rank 1" kill.log
check test -f four/checkpoint-2/pytorch_lora_weights.safetensors -- "the checkpoint before the kill is intact"
expect_ok "$BIN" train --config config.json output_dir=four train_batch_size=2 resume_from_checkpoint=latest
expect_grep -F "trained 4 steps"
floats four/pytorch_lora_weights.safetensors > w4
check close w1 w4 -- "resumed with one process, the run ends where the uninterrupted one did"
echo "mpi ok"
