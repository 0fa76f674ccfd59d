#!/usr/bin/env bash
# lora_type=lycoris end to end on the generated tiny LongCat model: the tiny twin of SimpleTuner's
# LongCat edit LoKr preset trains 10 steps (int8 base, gradient checkpointing, LoKr on every linear)
# and writes LyCORIS keys; `validate` with the saved file reproduces the in-training sheet and
# --lora_scale 0 the untrained one; resume, init_lora and `examples copy` work; bad lycoris_config
# files and mismatched init_lora files stop with one error naming the file and the key.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
export SIMPLETUNER_EXAMPLES_DIR=$(pwd)/examples
st_workdir
cd "$ST_DIR"
export SIMPLETUNER_TINY_DIR=$ST_DIR/tiny
P=tiny.longcat_image.edit-lycoris-lokr
OUT=output/$P
run_log list.txt "$BIN" examples list
expect_grep "^  longcat_image.edit-lycoris-lokr .*real weights" list.txt
expect_grep "^  $P .*no download" list.txt

run_log train.log "$BIN" train example=$P
expect_grep -F "trained 10 steps" train.log
expect_grep "LyCORIS \(.*lycoris_config.json\): 46 layers \(lokr 46, loha 0, lora 0\)" train.log
expect_grep -F "quantising the transformer base to int8" train.log
expect_file $OUT/pytorch_lora_weights.safetensors $OUT/checkpoint-10/pytorch_lora_weights.safetensors \
    $OUT/validation/step-0/00.png $OUT/validation/step-10/00.png
# LyCORIS' keys and metadata in the safetensors header
head -c 65536 $OUT/pytorch_lora_weights.safetensors > header.txt
expect_grep -F '"lycoris_transformer_blocks_0_attn_to_q.lokr_w1"' header.txt
expect_grep -F '"lycoris_single_transformer_blocks_1_proj_mlp.lokr_w2"' header.txt
expect_grep -F '"lycoris_x_embedder.alpha"' header.txt
expect_grep -F '"ss_network_module":"lycoris.kohya"' header.txt
expect_grep -F 'lycoris_config' header.txt
expect_no_grep -F 'lora_A' header.txt

# validate with the saved LoKr reproduces the last in-training sheet; strength 0 is the base model
run_log v1.log "$BIN" validate example=$P --output vs
expect_same_file $OUT/validation/step-10/00.png vs/00.png "validate = the in-training sheet"
# (raw renders: a sheet's caption names the strength it was rendered at)
REF=$(ls "$SIMPLETUNER_TINY_DIR/data/$P/reference/"*.png | head -n 1)
VR=(validate example=$P --image "$REF" --prompt "give it a white background" --seed 3)
run_log v0.log "$BIN" "${VR[@]}" --lora $OUT/checkpoint-5/pytorch_lora_weights.safetensors --lora_scale 0 --output zero.png
run_log vb.log "$BIN" "${VR[@]}" output_dir=no_output --output base.png
expect_grep -F "validating the base model" vb.log
expect_same_file zero.png base.png "--lora_scale 0 = no adapter"
run_log v1r.log "$BIN" "${VR[@]}" --lora $OUT/checkpoint-5/pytorch_lora_weights.safetensors --output one.png
expect_diff_file one.png base.png "the LoKr changes the render"
run_log v2.log "$BIN" validate example=$P --lora $OUT/pytorch_lora_weights.safetensors --lora_scale 2 --output vs2
expect_diff_file vs/00.png vs2/00.png "--lora_scale 2 changes the image"
expect_grep -F "(scale 2)" v2.log

# resume continues from the newest checkpoint
run_log resume.log "$BIN" train example=$P max_train_steps=12 resume_from_checkpoint=latest validation_step_interval=100
expect_grep -F "resumed from $OUT/checkpoint-10" resume.log
expect_grep -F "trained 12 steps" resume.log

# init_lora: training starts from the file's LoKr modules; learning rate 0 keeps them
run_log init.log "$BIN" train example=$P output_dir=init init_lora=$OUT/pytorch_lora_weights.safetensors learning_rate=0 \
    max_train_steps=1 num_eval_images=0
expect_grep -F "LyCORIS: 46 modules from $OUT/pytorch_lora_weights.safetensors" init.log
run_log v3.log "$BIN" "${VR[@]}" --lora init/pytorch_lora_weights.safetensors --output init.png
run_log v4.log "$BIN" "${VR[@]}" --lora $OUT/pytorch_lora_weights.safetensors --output final.png
expect_same_file init.png final.png "init_lora with learning rate 0 keeps the LoKr"

# a standard LoRA cannot start from a LyCORIS file, nor LyCORIS from a PEFT LoRA
expect_fail -c 2 "$BIN" train example=$P lora_type=standard output_dir=x init_lora=$OUT/pytorch_lora_weights.safetensors
expect_grep -F "is a LyCORIS file"
expect_grep -F "set lora_type=lycoris"
run_log lora.log "$BIN" train example=tiny.longcat_image.edit-lora max_train_steps=1 num_eval_images=0 output_dir=peft
expect_fail -c 2 "$BIN" train example=$P output_dir=y init_lora=peft/pytorch_lora_weights.safetensors
expect_grep -F "init_lora peft/pytorch_lora_weights.safetensors: not a LyCORIS file"

# validation_lycoris_strength: validation renders at that multiplier (0: the base model, like the
# untrained step 0) and training goes on at the configured one (the same weights as at strength 1)
V="max_train_steps=4 validation_step_interval=2 checkpoint_step_interval=100"
run_log vs0.log "$BIN" train example=$P $V validation_lycoris_strength=0 output_dir=vstr0
run_log vs1.log "$BIN" train example=$P $V validation_lycoris_strength=1 output_dir=vstr1
# (a sheet's caption names its step and strength: compare with validate's sheets of the same ones;
# validate at strength 0 renders the base model and at 1 the LoKr, as the raw renders above show)
run_log vv0.log "$BIN" validate example=$P --lora vstr0/pytorch_lora_weights.safetensors --lora_scale 0 --output vv0
expect_same_file vstr0/validation/step-4/00.png vv0/00.png "strength 0 renders the base model"
run_log vv1.log "$BIN" validate example=$P --lora vstr1/pytorch_lora_weights.safetensors --output vv1
expect_same_file vstr1/validation/step-4/00.png vv1/00.png "strength 1 renders the trained LoKr"
expect_same_file vstr0/pytorch_lora_weights.safetensors vstr1/pytorch_lora_weights.safetensors "training ignores the validation strength"
expect_fail -c 2 "$BIN" train example=$P validation_lycoris_strength=-1
expect_grep -F "option 'validation_lycoris_strength' expects a number in [0, 100], got -1"

# examples copy points lycoris_config at the copy
expect_ok "$BIN" examples copy $P mine
expect_grep -F '"lycoris_config": "mine/lycoris_config.json"' mine/config.json
expect_file mine/lycoris_config.json

# bad lycoris_config files: one error naming the file and the key (exit 2), before any model work
printf '{"algo": "lokr", "multiplier": 1, "linear_alpha": 1}' > nodim.json
expect_fail -c 2 "$BIN" train example=$P lycoris_config=nodim.json
expect_grep -F "lycoris_config nodim.json: missing key 'linear_dim' (required unless full_matrix is true)"
printf '{"algo": "lokr", "multiplier": 1, "linear_dim": 4, "linear_alpha": 1, "apply_preset": {"target_module": ["Attention"], "module_algo_map": {"Attention": {"factr": 8}}}}' > key.json
expect_fail -c 2 "$BIN" train example=$P lycoris_config=key.json
expect_grep -F "lycoris_config key.json: 'apply_preset.module_algo_map.Attention.factr' is not a LyCORIS module setting"
expect_fail -c 2 "$BIN" train example=$P lycoris_config=missing.json
expect_grep -F "missing.json: cannot open"
printf '{"algo": "lokr", "multiplier": 1, "linear_dim": 4, "linear_alpha": 1, "apply_preset": {"target_module": ["QwenImageTransformerBlock"]}}' > none.json
expect_fail -c 2 "$BIN" train example=$P lycoris_config=none.json
expect_grep -F "apply_preset selects no linear layer of the transformer"
expect_grep -F "FluxTransformerBlock"
# "Attention" selects LongCat's attention layers (FluxAttention), as the issue's example config does
printf '{"algo": "lokr", "multiplier": 1.0, "linear_dim": 10000, "linear_alpha": 1, "factor": 16, "full_matrix": true, "use_scalar": true, "apply_preset": {"target_module": ["Attention"], "module_algo_map": {"Attention": {"factor": 16}}}}' > attn.json
run_log attn.log "$BIN" train example=$P lycoris_config=attn.json output_dir=attn max_train_steps=2 num_eval_images=0
expect_grep -F "22 layers (lokr 22" attn.log
echo ok
