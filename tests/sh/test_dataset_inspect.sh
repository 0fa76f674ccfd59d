#!/usr/bin/env bash
# dataset inspect on the quickstarts' dataloader layouts (LongCat edit: a reference set with neither
# dataset_type nor conditioning_type; Qwen edit-v2: three reference_strict sets), then a missing
# pair and a corrupt image.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
st_workdir
cd "$ST_DIR"
"$BIN" make-dataset --kind edit-pairs --out one --count 4 --size 96x64 >/dev/null
"$BIN" make-dataset --kind edit-pairs --out three --count 4 --references 3 --size 64x64 >/dev/null
cat > longcat.json <<'J'
[
  {"id": "edit-images", "type": "local", "instance_data_dir": "one/images", "caption_strategy": "textfile",
   "resolution": 768, "cache_dir_vae": "cache/vae/longcat/edit", "conditioning_data": ["ref-images"]},
  {"id": "ref-images", "type": "local", "instance_data_dir": "one/reference", "caption_strategy": null,
   "resolution": 768, "cache_dir_vae": "cache/vae/longcat/ref"}
]
J
cat > longcat_config.json <<'J'
{"model_type": "lora", "model_family": "longcat_image", "model_flavour": "edit", "output_dir": "out",
 "optimizer": "adamw_bf16", "train_batch_size": 1, "data_backend_config": "longcat.json"}
J
"$BIN" dataset inspect --config longcat_config.json >out.txt 2>err.txt || { cat err.txt; fail "longcat inspect"; }
expect_grep -F 'dataset "edit-images" (one/images): 4 images found, 4 used, 0 skipped' out.txt
expect_grep -F 'pairs with "ref-images": 4 same path, 0 other extension, 0 missing, 0 references unused' out.txt
expect_grep -F 'buckets (WxH: images): 960x640: 4' out.txt     # 1.5 at 768² area, alignment 64: 940.6 -> 960, 627 -> 640
expect_grep -F 'reference_strict of "edit-images"' out.txt
cat > qwen.json <<'J'
[
  {"id": "qwen-edit-plus-images", "type": "local", "instance_data_dir": "three/images", "caption_strategy": "textfile",
   "resolution": 1024, "conditioning_data": ["ref-a", "ref-b", "ref-c"], "cache_dir_vae": "cache/vae/qwen/images"},
  {"id": "ref-a", "type": "local", "dataset_type": "conditioning", "instance_data_dir": "three/reference_a",
   "conditioning_type": "reference_strict", "resolution": 1024, "cache_dir_vae": "cache/vae/qwen/ref_a"},
  {"id": "ref-b", "type": "local", "dataset_type": "conditioning", "instance_data_dir": "three/reference_b",
   "conditioning_type": "reference_strict", "resolution": 1024, "cache_dir_vae": "cache/vae/qwen/ref_b"},
  {"id": "ref-c", "type": "local", "dataset_type": "conditioning", "instance_data_dir": "three/reference_c",
   "conditioning_type": "reference_strict", "resolution": 1024, "cache_dir_vae": "cache/vae/qwen/ref_c"}
]
J
cat > qwen_config.json <<'J'
{"model_type": "lora", "model_family": "qwen_image", "model_flavour": "edit-v2", "output_dir": "out",
 "optimizer": "adamw_bf16", "train_batch_size": 1, "aspect_bucket_alignment": 64, "data_backend_config": "qwen.json"}
J
"$BIN" dataset inspect --config qwen_config.json >out.txt 2>err.txt || { cat err.txt; fail "qwen inspect"; }
expect_grep -F 'aspect_bucket_alignment 64 replaced by 32' err.txt
expect_grep -F 'buckets (WxH: images): 1024x1024: 4' out.txt
for r in a b c; do expect_grep -F "pairs with \"ref-$r\": 4 same path" out.txt; done
expect_grep -F 'batches per epoch: 4' out.txt
rm three/reference_b/pair_0002.png
printf 'not an image' > three/images/pair_0001.png
rc=0
"$BIN" dataset inspect --config qwen_config.json >out.txt 2>err.txt || rc=$?
expect_eq "$rc" 2 "inspect with a missing pair: exit code"
expect_grep -F 'pairs with "ref-b": 2 same path, 0 other extension, 1 missing' out.txt
expect_grep -F 'skipped pair_0001.png: three/images/pair_0001.png: not a JPEG' out.txt
expect_grep -F 'error: conditioning dataset "ref-b" (three/reference_b): 1 of 3 images of dataset "qwen-edit-plus-images" have no reference with the same relative path: pair_0002.png' err.txt
expect_grep -F 'skipping three/images/pair_0001.png: not a JPEG, PNG or WebP image' err.txt
expect_fail -c 1 "$BIN" dataset inspect --config qwen_config.json --strict
expect_grep -F 'error: dataset "qwen-edit-plus-images": three/images/pair_0001.png: not a JPEG, PNG or WebP image (unrecognised file signature) (strict mode'
echo ok
