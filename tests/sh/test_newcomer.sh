#!/usr/bin/env bash
# A newcomer's first day (issue 23), as a new user meets it: which configuration was picked, what
# config show says (model_kwargs, an inferred model_flavour), every unknown key in one error, typos of
# values, dataset folders checked before the model loads, validate without inputs, references the
# flavour does not take, eval datasets left out of training, a LoRA of another model, logs without a
# terminal (no \r, one line per event, validation plan and ETA) and titled validation sheets.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
MODEL=$(pwd)/tests/data/models/qwenimage_edit        # a QwenImageEditPipeline folder: edit-v1
LONGCAT=$(pwd)/tests/data/models/longcat_edit
st_workdir
cd "$ST_DIR"
export OMP_NUM_THREADS=2
"$BIN" make-dataset --kind edit-pairs --out ds --count 3 --size 64x64 > /dev/null
"$BIN" make-dataset --kind edit-pairs --out evalds --count 2 --size 64x64 --seed 9 > /dev/null
mkdir -p config
cat > config/multidatabackend.json <<JSON
[
  {"id": "edits", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile",
   "resolution": 64, "resolution_type": "pixel_area", "conditioning_data": ["refs"], "cache_dir_vae": "cache/vae/edits"},
  {"id": "refs", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
   "instance_data_dir": "ds/reference", "resolution": 64, "cache_dir_vae": "cache/vae/refs"}
]
JSON
# no model_flavour: the model folder's model_index.json decides
cat > config/config.json <<JSON
{"model_type": "lora", "model_family": "qwen_image", "pretrained_model_name_or_path": "$MODEL",
 "output_dir": "out", "data_backend_config": "config/multidatabackend.json", "optimizer": "adamw_bf16",
 "max_train_steps": 4, "num_train_epochs": 0, "train_batch_size": 1, "lora_rank": 4, "seed": 3,
 "validation_step_interval": 2, "num_eval_images": 1, "validation_resolution": "64x64,48x32",
 "validation_num_inference_steps": 2, "checkpoint_step_interval": 2, "caption_dropout_probability": 0.0,
 "model_kwargs": {"match_target_res": true}, "tracker_kwargs": {"a": 1}}
JSON

# -- the configuration found without --config is named; config show tells the whole truth
run_log show.log "$BIN" config show
expect_grep -F "using config/config.json (no --config given)" show.log
expect_grep -F "# model_flavour not set: edit-v1, from $MODEL/model_index.json (QwenImageEditPipeline)" show.log
expect_grep -F "model_flavour = \"edit-v1\"  # inferred, from $MODEL/model_index.json (QwenImageEditPipeline)" show.log
expect_grep -F 'model_kwargs = {"match_target_res":true}  # implemented, from config/config.json' show.log
expect_grep -F 'tracker_kwargs = {"a":1}  # ignored (SimpleTuner drops object values), from config/config.json' show.log
run_log show2.log "$BIN" config show --config config/config.json 'model_kwargs={"match_target_res": false}'
expect_no_grep -F "using config/config.json" show2.log
expect_grep -F 'model_kwargs = {"match_target_res":false}  # implemented, from command line' show2.log
expect_fail -c 2 "$BIN" config show 'model_kwargs=match_target_res'
expect_grep -F "command line: model_kwargs expects a JSON object"
# a folder that is not there (yet): the flavour is inferred when the model loads, and config show says so
run_log show3.log "$BIN" config show pretrained_model_name_or_path=nowhere/model
expect_grep -F "# model_flavour is not set: it is inferred from the model folder's model_index.json when the model loads" show3.log

# -- an explicit flavour or family that contradicts the folder: one error naming both
expect_fail -c 2 "$BIN" config show model_flavour=edit-v2
expect_grep -F "model_flavour=edit-v2 samples with QwenImageEditPlusPipeline, but $MODEL/model_index.json names QwenImageEditPipeline (model_flavour edit-v1)"
expect_fail -c 2 "$BIN" train model_family=longcat_image
expect_grep -F "model_family=longcat_image, but $MODEL/model_index.json names QwenImageEditPipeline, a qwen_image model"

# -- every unknown key in one run, each with its suggestion (the command's own flags included)
cat > typos.json <<JSON
{"model_type": "lora", "model_family": "qwen_image", "lerning_rate": 1e-4, "max_trian_steps": 3}
JSON
expect_fail -c 2 "$BIN" validate --config typos.json optimzer=adamw_bf16 --imag ds/reference/pair_0000.png --prompt x
expect_grep -F "typos.json: unknown option 'lerning_rate' (did you mean 'learning_rate'?), 'max_trian_steps' (did you mean 'max_train_steps'?); command line: unknown option 'optimzer' (did you mean 'optimizer'?), '--imag' (did you mean '--image'?)"
expect_fail -c 2 "$BIN" config show model_family=longcat
expect_grep -F "unknown value model_family=longcat (did you mean longcat_image?"
expect_no_grep -F "not supported yet"

# -- dataset folders are checked before any model is loaded (here: before quantising it)
expect_fail -c 2 "$BIN" train base_model_precision=int8-quanto data_backend_config=missing.json
expect_grep -F "missing.json"
sed 's#ds/images#ds/imagez#; s#ds/reference#ds/referencez#' config/multidatabackend.json > config/broken.json
for cmd in train cache; do
    expect_fail -c 2 "$BIN" $cmd base_model_precision=int8-quanto data_backend_config=config/broken.json
    expect_grep -F "config/broken.json: dataset \"edits\": instance_data_dir ds/imagez does not exist; dataset \"refs\": instance_data_dir ds/referencez does not exist (checked before loading the model)"
    expect_no_grep -F "quantising"
done

# -- validate with neither --image nor a dataset says what to give
mkdir -p bare
cd bare
expect_fail -c 2 "$BIN" validate --model_family qwen_image --pretrained_model_name_or_path "$MODEL" --output none.png
cd ..
expect_grep -F "nothing to validate: give --image REF and --prompt TEXT"
expect_no_path bare/none.png
# more references than edit-v1 takes: a warning saying which is used
run_log refs.log "$BIN" validate --image ds/reference/pair_0000.png --image ds/reference/pair_0001.png --prompt "make it red" --output two.png
expect_grep -F "warning: 2 reference images, but the edit-v1 flavour of qwen_image takes 1: using the first" refs.log
expect_file two.png

# -- a reference of another aspect than its edit image under reference_strict: said once, with what happens
"$BIN" make-dataset --kind edit-pairs --out wide --count 1 --size 96x64 > /dev/null
cp -r ds ds_wide
cp wide/reference/pair_0000.png ds_wide/reference/pair_0000.png
sed 's#"ds/#"ds_wide/#g; s#cache/vae#cache_wide/vae#g' config/multidatabackend.json > config/wide.json
run_log wide.log "$BIN" cache data_backend_config=config/wide.json cache_dir=cache_wide
expect_grep -F "warning: dataset \"refs\" (reference_strict): 1 of 3 references have another aspect ratio than their edit image (e.g. pair_0000.png is 96x64, its edit image pair_0000.png 64x64)" wide.log

# -- training without a terminal: one line per event, the validation plan, its measured cost, ETAs
run_log train.log "$BIN" train
expect_grep -F "model_flavour not set: edit-v1, from $MODEL/model_index.json" train.log
expect_grep -F "validation: 3 times in this run (step 0, every 2 steps and at the last), each 2 sheets (1 image x 2 sizes: 64x64, 48x32) x 2 sampling steps" train.log
expect_grep -F "validation_step_interval" train.log
expect_grep "validation at step 0 took [0-9hms]+ \([0-9.]+ s per sampling step\); the 2 left in this run: about" train.log
expect_grep "^  wrote out/validation/step-2/00\.png \(1/2, [0-9hms]+ so far, ETA [0-9hms]+\)$" train.log
expect_grep "^  wrote out/validation/step-2/00_48x32\.png \(2/2, [0-9hms]+ so far\)$" train.log
expect_eq "$(tr -cd '\r' < train.log | wc -c)" 0 "carriage returns in a log"
expect_eq "$(awk 'length > 600' train.log | wc -l)" 0 "lines longer than 600 characters"
# on a terminal: one redrawn line of sampling steps, with the rate and the time left
script -qec "$BIN validate --image ds/reference/pair_0000.png --prompt 'make it red' validation_resolution=64x64 --output tty.png" /dev/null > tty.log
expect_grep $'\r  sampling step 2/2  [0-9.]+ s/step, ETA [0-9hms]+' tty.log
# the sheet: reference 1 | result | target, 64 px high each (3 panels: 8 + 3 x 72 = 224 wide)
file out/validation/step-4/00.png > sheet.type
expect_grep -F "224 x" sheet.type
file out/loss_curve.png > curve.type
expect_grep -F "800 x 400" curve.type

# -- an eval dataset named by eval_dataset_id is validated on and not trained on
cat > config/eval.json <<JSON
[
  {"id": "edits", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile",
   "resolution": 64, "resolution_type": "pixel_area", "conditioning_data": ["refs"], "cache_dir_vae": "cache_eval/vae/edits"},
  {"id": "refs", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
   "instance_data_dir": "ds/reference", "resolution": 64, "cache_dir_vae": "cache_eval/vae/refs"},
  {"id": "held-out", "type": "local", "instance_data_dir": "evalds/images", "caption_strategy": "textfile",
   "resolution": 64, "resolution_type": "pixel_area", "conditioning_data": ["held-out-refs"], "cache_dir_vae": "cache_eval/vae/ho"},
  {"id": "held-out-refs", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
   "instance_data_dir": "evalds/reference", "resolution": 64, "cache_dir_vae": "cache_eval/vae/hor"}
]
JSON
run_log eval.log "$BIN" train data_backend_config=config/eval.json eval_dataset_id=held-out output_dir=out_eval cache_dir=cache_eval \
    max_train_steps=1
expect_grep -F "dataset \"held-out\" (evalds/images, eval)" eval.log
expect_grep -F "caches: 0 VAE latents reused, 6 computed" eval.log      # the 3 training pairs only
expect_grep -F "validation step 0, image 1/2: $(cat evalds/images/pair_0000.txt)" eval.log
expect_fail -c 2 "$BIN" train eval_dataset_id=edits output_dir=out_eval2
expect_grep -F "no image dataset to train on: \"edits\" is an eval dataset"

# -- a LoRA of another model is an error, not a silent no-op: refused by the transformer class it
#    records (Qwen-Image and LongCat share module names), or by the keys that match no module
Q=(validate --model_family qwen_image --pretrained_model_name_or_path "$MODEL" --validation_resolution 64x64
   --validation_num_inference_steps 2 --image ds/reference/pair_0000.png --prompt p)
L=(validate --model_family longcat_image --pretrained_model_name_or_path "$LONGCAT" --validation_resolution 64x64
   --validation_num_inference_steps 2 --image ds/reference/pair_0000.png --prompt p)
expect_fail -c 1 "$BIN" "${L[@]}" --lora out/pytorch_lora_weights.safetensors --output x.png
expect_grep -F "out/pytorch_lora_weights.safetensors: a LoRA trained for QwenImageTransformer2DModel; this model's transformer is LongCatImageTransformer2DModel"
run_log lc.log "$BIN" train model_family=longcat_image pretrained_model_name_or_path="$LONGCAT" output_dir=out_lc cache_dir=cache_lc \
    max_train_steps=1 num_eval_images=0 validation_resolution=64x64
expect_file out_lc/pytorch_lora_weights.safetensors
# without the class field (another trainer's file): LongCat's single-stream blocks name no Qwen module
LC_ALL=C sed 's/"transformer_class"/"transformer_clasz"/' out_lc/pytorch_lora_weights.safetensors > foreign.safetensors
expect_fail -c 1 "$BIN" "${Q[@]}" --lora foreign.safetensors --output y.png
expect_grep "foreign.safetensors: [0-9]+ of its [0-9]+ LoRA keys name no module of this transformer \(a LoRA for another model\?\): 'transformer\.single_transformer_blocks\.0\."
expect_grep -F "this model's modules are e.g. 'transformer_blocks.0."
expect_no_path x.png y.png
echo "newcomer ok"
