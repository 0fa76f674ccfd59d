#!/usr/bin/env bash
# Dataset subsetting and scheduling, and reference captions, through the CLI on a tiny model:
# max_num_samples trains on a fixed subset; start_step/end_step hand training from one dataset to
# another (seen through the later one's timestep offset) and a gap in the schedules is one error
# naming the step; in random mode with two reference sets, a reference set's own captions get
# prompt embeddings of their own (and are reported unused in combined mode).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
st_workdir
cd "$ST_DIR"
export OMP_NUM_THREADS=2
"$BIN" make-dataset --kind edit-pairs --out ds --count 2 --size 64x64 > /dev/null
"$BIN" init-model --family qwen_image --flavour edit-v1 --size tiny --out m > /dev/null
cp -r ds/reference ds/reference2
run() { # config-file log-name extra-args...
    local f=$1 n=$2
    shift 2
    "$BIN" train model_family=qwen_image model_flavour=edit-v1 pretrained_model_name_or_path=m model_type=lora optimizer=adamw_bf16 \
        output_dir=out_$n data_backend_config=$f train_batch_size=1 num_eval_images=0 cache_dir=cache "$@" > $n.log 2>&1
}
ref='{"id": "r", "type": "local", "dataset_type": "conditioning", "instance_data_dir": "ds/reference", "resolution": 64, "cache_dir_vae": "cache/r"}'

# max_num_samples: one of the two pairs
cat > max.json <<JSON
[{"id": "e", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile", "resolution": 64,
  "cache_dir_vae": "cache/e", "conditioning_data": ["r"], "max_num_samples": 1}, $ref]
JSON
run max.json max max_train_steps=2 || { cat max.log; fail "max_num_samples run"; }
expect_grep -F 'dataset "e": max_num_samples 1: using 1 of the 2 images found' max.log
expect_grep -F 'dataset "e": 2 images found, 1 used' max.log
expect_grep -F "trained 2 steps" max.log

# curriculum: "early" for steps 1-2, "late" (timestep offset 4: sigma near 1) from step 3
cat > sched.json <<JSON
[{"id": "early", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile", "resolution": 64,
  "cache_dir_vae": "cache/e", "conditioning_data": ["r"], "end_step": 2},
 {"id": "late", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile", "resolution": 64,
  "cache_dir_vae": "cache/l", "conditioning_data": ["r"], "start_step": 3, "timestep_sampling_offset": 4}, $ref]
JSON
run sched.json sched max_train_steps=6 || { cat sched.log; fail "scheduled run"; }
sed 's/.*"step": \([0-9]*\),.*"sigma_mean": \([0-9.e-]*\).*/\1 \2/' out_sched/training_log.jsonl > sig.txt
expect_eq "$(wc -l < sig.txt)" 6 "sigma lines"
awk '$1 >= 3 && $2 < 0.85 { bad = 1 } END { exit bad }' sig.txt || { cat sig.txt; fail "a 'late' step has a low sigma"; }
awk '$1 <= 2 { a += $2 } $1 >= 3 { b += $2; n++ } END { exit (b / n > a / 2 + 0.05) ? 0 : 1 }' sig.txt || { cat sig.txt; fail "'late' sigmas not higher"; }
run_log sins.log "$BIN" dataset inspect model_family=qwen_image train_batch_size=1 data_backend_config=sched.json
expect_grep -F 'sampled in epochs 1-, optimizer steps 3-' sins.log
expect_grep -F 'sampled in epochs 1-, optimizer steps 1-2' sins.log
# a gap between the windows stops the run at the first step without data
sed 's/"start_step": 3/"start_step": 4/' sched.json > gap.json
expect_fail -c 2 run gap.json gap max_train_steps=6
expect_grep -F 'no dataset has a batch for optimizer step 3' gap.log
# a conditioning set cannot be scheduled on its own
sed 's/"dataset_type": "conditioning",/"dataset_type": "conditioning", "end_step": 3,/' max.json > condsched.json
expect_fail -c 2 run condsched.json condsched max_train_steps=1
expect_grep -F 'dataset "r": max_num_samples and start/end_epoch/step apply to image datasets' condsched.log

# reference captions (edit-v2+: several references per prompt): two reference sets, the second with its own captions
"$BIN" init-model --family qwen_image --flavour edit-v2+ --size tiny --out m2 > /dev/null
cat > refcap.json <<JSON
[{"id": "e", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile", "resolution": 64,
  "cache_dir_vae": "cache/e", "conditioning_data": ["r", "r2"]}, $ref,
 {"id": "r2", "type": "local", "dataset_type": "conditioning", "instance_data_dir": "ds/reference2", "resolution": 64,
  "cache_dir_vae": "cache/r2", "caption_strategy": "instanceprompt", "instance_prompt": "from the second reference"}]
JSON
run_log rc.log "$BIN" cache train_batch_size=1 caption_dropout_probability=0 model_family=qwen_image model_flavour=edit-v2+ \
    pretrained_model_name_or_path=m2 data_backend_config=refcap.json cache_dir=cache_rc conditioning_multidataset_sampling=random
expect_grep -F '0 prompt embeddings reused, 4 computed' rc.log
run_log ins.log "$BIN" dataset inspect model_family=qwen_image train_batch_size=1 data_backend_config=refcap.json conditioning_multidataset_sampling=random
expect_grep -F 'captions: replace the edit captions' ins.log
run_log rc2.log "$BIN" cache train_batch_size=1 caption_dropout_probability=0 model_family=qwen_image model_flavour=edit-v2+ \
    pretrained_model_name_or_path=m2 data_backend_config=refcap.json cache_dir=cache_rc2 conditioning_multidataset_sampling=combined
expect_grep -F '0 prompt embeddings reused, 2 computed' rc2.log
expect_grep -F 'dataset "r2": its captions are not used' rc2.log
echo ok
