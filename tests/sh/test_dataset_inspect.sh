#!/bin/sh
# dataset inspect on the quickstarts' dataloader layouts (LongCat edit: a reference set with neither
# dataset_type nor conditioning_type; Qwen edit-v2: three reference_strict sets), then a missing
# pair and a corrupt image.
set -e
BIN=${BIN:-build/simpletuner}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac
d=$(mktemp -d); trap 'rm -rf "$d"' EXIT
cd "$d"
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
"$BIN" dataset inspect --config longcat_config.json >out.txt 2>err.txt
grep -q 'dataset "edit-images" (one/images): 4 images found, 4 used, 0 skipped' out.txt
grep -q 'pairs with "ref-images": 4 same path, 0 other extension, 0 missing, 0 references unused' out.txt
grep -q 'buckets (WxH: images): 960x640: 4' out.txt     # 1.5 at 768² area, alignment 64: 940.6 -> 960, 627 -> 640
grep -q 'reference_strict of "edit-images"' out.txt
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
"$BIN" dataset inspect --config qwen_config.json >out.txt 2>err.txt
grep -q 'aspect_bucket_alignment 64 replaced by 32' err.txt
grep -q 'buckets (WxH: images): 1024x1024: 4' out.txt
for r in a b c; do grep -q "pairs with \"ref-$r\": 4 same path" out.txt; done
grep -q 'batches per epoch: 4' out.txt
rm three/reference_b/pair_0002.png
printf 'not an image' > three/images/pair_0001.png
set +e
"$BIN" dataset inspect --config qwen_config.json >out.txt 2>err.txt; rc=$?
set -e
test $rc = 2
grep -q 'pairs with "ref-b": 2 same path, 0 other extension, 1 missing' out.txt
grep -q 'skipped pair_0001.png: three/images/pair_0001.png: not a JPEG' out.txt
grep -q 'error: conditioning dataset "ref-b" (three/reference_b): 1 of 3 images of dataset "qwen-edit-plus-images" have no reference with the same relative path: pair_0002.png' err.txt
grep -q 'skipping three/images/pair_0001.png: not a JPEG, PNG or WebP image' err.txt
set +e
"$BIN" dataset inspect --config qwen_config.json --strict >out.txt 2>err.txt; rc=$?
set -e
test $rc = 1
grep -q 'error: dataset "qwen-edit-plus-images": three/images/pair_0001.png: not a JPEG, PNG or WebP image (unrecognised file signature) (strict mode' err.txt
echo ok
