#!/usr/bin/env bash
# init-model: tiny model folders of every family train and validate through the same loader as real
# checkpoints; the same seed writes the same bytes; the generated vocabulary round-trips text and
# knows the special tokens; a full-size folder holds the published configs; bad arguments are named.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
TOK=$(pwd)/tests/data/qwen_tokenizer
st_workdir
cd "$ST_DIR"
export OMP_NUM_THREADS=2
"$BIN" make-dataset --kind edit-pairs --out ds --count 2 --size 64x64 > /dev/null
for spec in qwen_image:edit-v1 qwen_image:edit-v2+ longcat_image:edit; do
    fam=${spec%%:*}; fl=${spec#*:}; m=m_${fam}_${fl}
    "$BIN" init-model --family $fam --flavour $fl --size tiny --out $m > init.log
    expect_grep -F "wrote $m: $fam $fl (tiny)" init.log
    expect_file $m/model_index.json $m/tokenizer/tokenizer.json $m/text_encoder/model.safetensors
    cat > mdb.json <<JSON
[{"id": "e", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile", "resolution": 64,
  "cache_dir_vae": "cache/$m/e", "conditioning_data": ["r"]},
 {"id": "r", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
  "instance_data_dir": "ds/reference", "resolution": 64, "cache_dir_vae": "cache/$m/r"}]
JSON
    "$BIN" train model_family=$fam model_flavour=$fl pretrained_model_name_or_path=$m model_type=lora optimizer=adamw_bf16 \
        output_dir=out_$m data_backend_config=mdb.json max_train_steps=2 train_batch_size=1 num_eval_images=1 validation_resolution=64x64 \
        validation_num_inference_steps=2 validation_step_interval=2 cache_dir=cache/$m > train.log 2>&1 || { cat train.log; fail "train $m"; }
    expect_grep -F "trained 2 steps" train.log
    expect_file out_$m/validation/step-2/00.png
    "$BIN" validate --model_family $fam --model_flavour $fl --pretrained_model_name_or_path $m --validation_resolution 64x64 \
        --validation_num_inference_steps 2 --image ds/reference/pair_0000.png --prompt "make it blue" --output v.png > val.log 2>&1 || { cat val.log; fail "validate $m"; }
    file v.png > v.type
    expect_grep -F "64 x 64" v.type
done
# a mask conditioning set (any image; here the references) trains through the CLI and is listed as a mask
cp -r ds/reference ds/mask
cat > mdb_mask.json <<JSON
[{"id": "e", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile", "resolution": 64,
  "cache_dir_vae": "cache/mask/e", "conditioning_data": ["r", "m"]},
 {"id": "r", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
  "instance_data_dir": "ds/reference", "resolution": 64, "cache_dir_vae": "cache/mask/r"},
 {"id": "m", "type": "local", "conditioning_type": "mask", "instance_data_dir": "ds/mask", "resolution": 64,
  "cache_dir_vae": "cache/mask/m"}]
JSON
run_log inspect.log "$BIN" dataset inspect model_family=qwen_image train_batch_size=1 data_backend_config=mdb_mask.json
expect_grep -F "mask of \"e\"" inspect.log
"$BIN" train model_family=qwen_image model_flavour=edit-v1 pretrained_model_name_or_path=m_qwen_image_edit-v1 model_type=lora \
    optimizer=adamw_bf16 output_dir=out_mask data_backend_config=mdb_mask.json max_train_steps=1 train_batch_size=1 \
    num_eval_images=0 cache_dir=cache/mask masked_loss_probability=0.5 > mask.log 2>&1 || { cat mask.log; exit 1; }
expect_grep -F "trained 1 steps" mask.log
# a dataset's timestep_sampling_offset moves its σ draws (offset 4: nearly pure noise)
sed 's/"cache_dir_vae": "cache\/mask\/e",/"cache_dir_vae": "cache\/mask\/e", "timestep_sampling_offset": 4,/' mdb_mask.json > mdb_off.json
for f in mdb_mask mdb_off; do
    "$BIN" train model_family=qwen_image model_flavour=edit-v1 pretrained_model_name_or_path=m_qwen_image_edit-v1 model_type=lora \
        optimizer=adamw_bf16 output_dir=out_$f data_backend_config=$f.json max_train_steps=6 train_batch_size=1 \
        num_eval_images=0 cache_dir=cache/mask > $f.log 2>&1 || { cat $f.log; exit 1; }
done
s0=$(sed 's/.*"sigma_mean": \([0-9.e-]*\).*/\1/' out_mdb_mask/training_log.jsonl | awk '{ s += $1 } END { print s / NR }')
s4=$(sed 's/.*"sigma_mean": \([0-9.e-]*\).*/\1/' out_mdb_off/training_log.jsonl | awk '{ s += $1 } END { print s / NR }')
awk -v a="$s0" -v b="$s4" 'BEGIN { exit (b > 0.95 && b > a) ? 0 : 1 }' || fail "sigma mean $s0 -> $s4 with offset 4"
# text-to-image flavours load too
"$BIN" init-model --family qwen_image --flavour v1.0 --size tiny --out t2i > /dev/null
"$BIN" validate --model_family qwen_image --model_flavour v1.0 --pretrained_model_name_or_path t2i --validation_resolution 32x32 \
    --validation_num_inference_steps 2 --prompt "a red square" --output t.png > t.log 2>&1 || { cat t.log; exit 1; }
# same seed, same bytes; another seed, other weights
"$BIN" init-model --family qwen_image --flavour edit-v1 --size tiny --out s1 --seed 7 > /dev/null
"$BIN" init-model --family qwen_image --flavour edit-v1 --size tiny --out s2 --seed 7 > /dev/null
"$BIN" init-model --family qwen_image --flavour edit-v1 --size tiny --out s3 --seed 8 > /dev/null
expect_same_file s1/transformer/diffusion_pytorch_model.safetensors s2/transformer/diffusion_pytorch_model.safetensors "same seed, same weights"
expect_same_file s1/tokenizer/tokenizer.json s2/tokenizer/tokenizer.json "same seed, same vocabulary"
expect_diff_file s1/transformer/diffusion_pytorch_model.safetensors s3/transformer/diffusion_pytorch_model.safetensors "another seed, other weights"
# the generated vocabulary: text round-trips, special tokens are single ids named by the encoder config
ids=$("$BIN" tokenize --tokenizer s1/tokenizer "Make the sky orange and add a small star.")
back=$("$BIN" tokenize --tokenizer s1/tokenizer --decode "$ids")
expect_eq "$back" "Make the sky orange and add a small star." "tokenizer round trip"
pad=$("$BIN" tokenize --tokenizer s1/tokenizer "<|image_pad|>")
expect_grep "\"image_token_id\":[[:space:]]*$pad," s1/text_encoder/config.json
# a full-size folder: the published configs and the real tokenizer, no weights unless asked
run_log full.log "$BIN" init-model --family longcat_image --flavour edit --size full --tokenizer "$TOK" --out full
expect_grep '"num_single_layers":[[:space:]]*20,' full/transformer/config.json
expect_grep '"hidden_size":[[:space:]]*3584,' full/text_encoder/config.json
expect_file full/tokenizer/tokenizer.json
expect_no_path full/transformer/diffusion_pytorch_model.safetensors
# full widths on a few blocks (--layers, --single, --text-layers): the depths change, nothing else
run_log few.log "$BIN" init-model --family longcat_image --size full --tokenizer "$TOK" --layers 3 --single 1 --text-layers 2 --out few
expect_grep '"num_layers":[[:space:]]*3,' few/transformer/config.json
expect_grep '"num_single_layers":[[:space:]]*1,' few/transformer/config.json
expect_grep '"num_hidden_layers":[[:space:]]*2,' few/text_encoder/config.json
expect_grep '"num_attention_heads":[[:space:]]*24,' few/transformer/config.json
expect_fail -c 2 "$BIN" init-model --family qwen_image --size full --tokenizer "$TOK" --layers 0 --out x
expect_grep -F "--layers expects a whole number of blocks from 1 to 1000, got '0'"
expect_fail -c 2 "$BIN" init-model --family qwen_image --size full --tokenizer "$TOK" --layers 2 --single 4 --out x
expect_grep -F "--single applies to a transformer with single blocks (qwen_image has one kind of block: --layers)"
expect_fail "$BIN" validate --model_family longcat_image --model_flavour edit --pretrained_model_name_or_path full --image ds/reference/pair_0000.png \
    --prompt p
expect_grep -F "full/vae"
# --set: a component's config key changed before the weights are drawn; the folder loads and
# renders; a misspelt key or component is a usage error that leaves no folder behind
run_log set.log "$BIN" init-model --family qwen_image --size tiny --out set1 --set transformer.num_layers=3 \
    --set vae.base_dim=8 --set text_encoder.vision_config.depth=1 --set processor.max_pixels=12544 \
    --set text_encoder.hidden_size=64 --set 'text_encoder.rope_scaling.mrope_section=[4, 6, 6]'
expect_grep '"num_layers":[[:space:]]*3,' set1/transformer/config.json
expect_grep '"joint_attention_dim":[[:space:]]*64,' set1/transformer/config.json
expect_grep '"base_dim":[[:space:]]*8,' set1/vae/config.json
expect_grep '"depth":[[:space:]]*1,' set1/text_encoder/config.json
expect_grep '"max_pixels":[[:space:]]*12544' set1/processor/preprocessor_config.json
run_log set_render.log "$BIN" validate --model_family qwen_image --model_flavour edit-v2 --pretrained_model_name_or_path set1 \
    --image ds/reference/pair_0000.png --prompt "make it red" --validation_resolution 64x64 --validation_num_inference_steps 2 \
    --output set1_render.png
expect_file set1_render.png
expect_grep '"out_hidden_size":[[:space:]]*64,' set1/text_encoder/config.json
# widths that cannot work together are refused by the loader (an image feature replaces a token embedding)
expect_fail -c 2 "$BIN" init-model --family qwen_image --size tiny --out set3 --set text_encoder.hidden_size=64 \
    --set 'text_encoder.rope_scaling.mrope_section=[4, 6, 6]' --set text_encoder.vision_config.out_hidden_size=48
expect_grep -F "vision_config.out_hidden_size 48 must equal hidden_size 64"
expect_fail -c 2 "$BIN" init-model --family qwen_image --size tiny --out set2 --set vae.base_dimm=8
expect_grep -F "--set vae.base_dimm=8: vae has no key 'base_dimm'"
expect_no_path set2
expect_fail -c 2 "$BIN" init-model --family qwen_image --size tiny --out set2 --set vaee.x=1
expect_grep -F "expected COMPONENT.KEY=VALUE with COMPONENT one of transformer, vae"
expect_fail -c 2 "$BIN" init-model --family qwen_image --size tiny --out set2 --set transformer.num_layers
expect_grep -F "--set 'transformer.num_layers': expected COMPONENT.KEY=VALUE"
expect_no_path set2
expect_fail -c 2 "$BIN" init-model --family qwen_image --size tiny --out s1
expect_grep -F "s1 exists and is not empty"
expect_fail -c 2 "$BIN" init-model --family flux --size tiny --out x
expect_grep -F "not one of qwen_image, longcat_image"
expect_fail -c 2 "$BIN" init-model --family qwen_image --flavour edit --size tiny --out x
expect_grep -F "'edit' is not a flavour of qwen_image"
expect_fail -c 2 "$BIN" init-model --family qwen_image --size huge --out x
expect_grep -F "'huge' is not one of tiny, small, full"
expect_fail -c 2 "$BIN" init-model --family qwen_image --size full --out x
expect_grep -F "needs the real Qwen2.5-VL tokenizer"
expect_ok "$BIN" init-model --family qwen_image --size tiny --out s1 --force
echo ok
