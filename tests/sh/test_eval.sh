#!/usr/bin/env bash
# `simpletuner eval` on the tiny LongCat edit model and a make-dataset folder: the table, the JSON
# report, the files under --out, --limit; the LoRA of output_dir is picked up and changes the
# numbers (lora_scale 0 gives the base model's exactly); errors name the folder or the file of an
# incomplete pair and exit 2. (The numbers themselves are checked against image_metrics on the
# written PNGs in tests/unit/test_eval.c.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
MODEL=$(pwd)/tests/data/models/longcat_edit
st_workdir
cd "$ST_DIR"
"$BIN" make-dataset --kind edit-pairs --out ds --count 3 --size 64x64 --seed 5 > /dev/null
cat > multidatabackend.json <<JSON
[
  {"id": "edits", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile", "resolution": 64,
   "resolution_type": "pixel_area", "conditioning_data": ["refs"], "cache_dir_vae": "cache/vae/edits"},
  {"id": "refs", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
   "instance_data_dir": "ds/reference", "resolution": 64, "resolution_type": "pixel_area", "cache_dir_vae": "cache/vae/refs"}
]
JSON
cat > config.json <<JSON
{
  "model_type": "lora", "model_family": "longcat_image", "model_flavour": "edit",
  "pretrained_model_name_or_path": "$MODEL", "output_dir": "out", "data_backend_config": "multidatabackend.json",
  "optimizer": "adamw_bf16", "learning_rate": 1e-2, "lr_scheduler": "constant", "max_train_steps": 3,
  "train_batch_size": 1, "lora_rank": 4, "seed": 1, "caption_dropout_probability": 0.0,
  "validation_disable": true, "checkpoint_step_interval": 100,
  "validation_resolution": "64x64", "validation_num_inference_steps": 2, "validation_guidance": 4.5,
  "model_kwargs": {"match_target_res": true}
}
JSON
EV=(eval --config config.json --dataset ds)

# the base model (nothing in output_dir yet): table, mean, worst, files
run_log base.log "$BIN" "${EV[@]}" --out ev_base
expect_grep -F "no LoRA given or found in output_dir: evaluating the base model" base.log
# (no validation_seed: the config's seed, as SimpleTuner seeds its validation generator)
expect_grep -F "eval of ds: 3 of 3 pairs, longcat_image edit, LoRA none (base model), 2 steps, guidance 4.5, seed 1" base.log
expect_grep "^pair_0000.png +[0-9]+\.[0-9]{2} +[01]\.[0-9]{4} +64x64 " base.log
expect_grep "^mean +[0-9]+\.[0-9]{2} +[01]\.[0-9]{4}$" base.log
expect_grep "^unedited: [0-9]+\.[0-9]{2} dB \(the first reference itself as the result" base.log
expect_grep "^worst 3 \(lowest PSNR\): pair_000[0-2]\.png" base.log
expect_grep -F "sheet: ev_base/sheet.png" base.log
expect_file ev_base/sheet.png ev_base/report.json ev_base/results/pair_0000.png ev_base/results/pair_0001.png ev_base/results/pair_0002.png
file ev_base/results/pair_0001.png > type.txt
expect_grep -F "64 x 64" type.txt
# --json: the report alone on stdout (progress on stderr), the same as report.json
"$BIN" "${EV[@]}" --out ev_json --json > base.json 2> json.err || fail "eval --json"
expect_eq "$(head -c 1 base.json)" "{" "--json prints JSON first"
expect_grep '"pairs_evaluated":[[:space:]]+3,' base.json
expect_grep '"lora":[[:space:]]+null,' base.json
expect_grep '"psnr":[[:space:]]+[0-9]+\.[0-9]+' base.json
expect_same_file base.json ev_json/report.json "--json prints report.json"
# the renders do not depend on the output folder
expect_same_file ev_json/results/pair_0002.png ev_base/results/pair_0002.png
# --limit: the first N pairs in name order
run_log limit.log "$BIN" "${EV[@]}" --out ev_limit --limit 2
expect_grep -F "eval of ds: 2 of 3 pairs" limit.log
expect_file ev_limit/results/pair_0001.png
expect_no_path ev_limit/results/pair_0002.png

# a LoRA trained into output_dir is picked up as validate does, and changes the numbers
run_log train.log "$BIN" train --config config.json
expect_file out/pytorch_lora_weights.safetensors
run_log lora.log "$BIN" "${EV[@]}" --out ev_lora
expect_grep -F "LoRA: out/pytorch_lora_weights.safetensors (scale 1)" lora.log
mean_of() { grep -E '"mean_psnr":' "$1"; }
expect_ne "$(mean_of ev_lora/report.json)" "$(mean_of ev_base/report.json)" "the LoRA changes mean_psnr"
expect_diff_file ev_lora/results/pair_0000.png ev_base/results/pair_0000.png "the LoRA changes the render"
expect_grep '"lora":[[:space:]]+"out/pytorch_lora_weights.safetensors",' ev_lora/report.json
# scale 0 is the base model exactly
run_log zero.log "$BIN" "${EV[@]}" --out ev_zero --lora out/pytorch_lora_weights.safetensors --lora_scale 0
expect_eq "$(mean_of ev_zero/report.json)" "$(mean_of ev_base/report.json)" "lora_scale 0 scores as the base model"
expect_same_file ev_zero/results/pair_0000.png ev_base/results/pair_0000.png
# --lora none: the base model although output_dir has a LoRA (make demo's "before")
run_log none.log "$BIN" "${EV[@]}" --out ev_none --lora none
expect_grep -F "no LoRA given or found in output_dir: evaluating the base model" none.log
expect_grep '"lora":[[:space:]]+null,' ev_none/report.json
expect_same_file ev_none/results/pair_0000.png ev_base/results/pair_0000.png
# validate --lora none too: the same image as the LoRA at scale 0
V=(validate --config config.json --image ds/reference/pair_0001.png --prompt "$(cat ds/images/pair_0001.txt)")
run_log vnone.log "$BIN" "${V[@]}" --lora none --output v_none.png
expect_grep -F "validating the base model" vnone.log
run_log vzero.log "$BIN" "${V[@]}" --lora out/pytorch_lora_weights.safetensors --lora_scale 0 --output v_zero.png
expect_same_file v_none.png v_zero.png

# errors: exit 2 with the folder or the file named
expect_fail -c 2 "$BIN" eval --config config.json
expect_grep -F "eval: --dataset DIR is required"
expect_fail -c 2 "$BIN" eval --config config.json --dataset nowhere
expect_grep -F "nowhere: no such dataset folder"
cp -r ds no_ref
rm no_ref/reference/pair_0001.png
expect_fail -c 2 "$BIN" eval --config config.json --dataset no_ref
expect_grep -F "no_ref/reference: 1 of 3 edit targets of no_ref/images have no reference with the same name (incomplete pairs): pair_0001.png"
cp -r ds no_target
rm no_target/images/pair_0002.png
expect_fail -c 2 "$BIN" eval --config config.json --dataset no_target
expect_grep -F "no_target/reference: 1 reference without an edit target of the same name in no_target/images (incomplete pairs): pair_0002.png"
cp -r ds no_text
rm no_text/images/pair_0000.txt
expect_fail -c 2 "$BIN" eval --config config.json --dataset no_text
expect_grep -F "no_text/images: 1 of 3 edit targets have no instruction file (<name>.txt beside the image): pair_0000.png"
expect_fail -c 2 "$BIN" "${EV[@]}" --limit 0
expect_grep -F "eval: --limit expects a whole number >= 1, got '0'"
expect_fail -c 2 "$BIN" "${EV[@]}" --lora_scale half
expect_grep -F "eval: --lora_scale expects a number, got 'half'"
expect_fail "$BIN" "${EV[@]}" --lora missing.safetensors
expect_grep -F "missing.safetensors"
run_log help.txt "$BIN" eval --help
expect_grep -F "references | result | target" help.txt
run_log top.txt "$BIN" --help
expect_grep "^ +eval " top.txt
echo ok
