#!/bin/bash
# Hostile inputs of the readers (issue 18), end to end through the commands: symlink loops in an image
# folder, caption files that are not UTF-8 or far too long, a LoRA file whose header repeats a key.
# Each gives one clear message naming the file (and exit 2 for data, 1 for a damaged file), quickly.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
ROOT=$(pwd)
d=$(mktemp -d); trap 'rm -rf "$d" "$ST_OUT"' EXIT
cd "$d"
export OMP_NUM_THREADS=2

write_configs() {   # family flavour model
    cat > mdb.json <<JSON
[
  {"id": "edits", "type": "local", "instance_data_dir": "ds/images", "caption_strategy": "textfile",
   "resolution": 64, "resolution_type": "pixel_area", "conditioning_data": ["refs"], "cache_dir_vae": "cache/vae/edits"},
  {"id": "refs", "type": "local", "dataset_type": "conditioning", "conditioning_type": "reference_strict",
   "instance_data_dir": "ds/reference", "resolution": 64, "cache_dir_vae": "cache/vae/refs"}
]
JSON
    cat > config.json <<JSON
{"model_type": "lora", "model_family": "$1", "model_flavour": "$2", "pretrained_model_name_or_path": "$3",
 "output_dir": "out", "data_backend_config": "mdb.json", "optimizer": "adamw_bf16", "max_train_steps": 1,
 "train_batch_size": 1, "lora_rank": 4, "validation_resolution": "64x64"}
JSON
}

expect_ok "$BIN" make-dataset --kind edit-pairs --out ds --count 3 --size 64x64
write_configs qwen_image edit-v1 "$ROOT/tests/data/models/qwenimage_edit"

# symlink self-loops: discovery visits each real folder once and names the links it skipped
ln -s . ds/images/a
ln -s . ds/images/b
expect_ok "$BIN" dataset inspect --config config.json
expect_grep 'dataset "edits" \(ds/images\): 3 images found, 3 used, 0 skipped'
expect_grep 'skipped 2 symlinked folders whose target was already visited .*: a, b'

# a caption file that is not UTF-8 (Latin-1): exit 2 naming the file
printf 'caf\xe9 au lait\n' > ds/images/pair_0001.txt
expect_fail -c 2 "$BIN" dataset inspect --config config.json
expect_grep 'ds/images/pair_0001.txt: caption file is not valid UTF-8 \(byte 0xE9 at offset 3\)'
printf 'make it blue\n' > ds/images/pair_0001.txt

# an 8000-word caption: Qwen-Image cannot position it (4096 text positions, no truncation upstream):
# refused before the text encoder runs, naming the caption file; LongCat truncates it to 512 tokens
words() { for i in $(seq 1 1000); do printf 'make the sky darker and add a boat '; done; }
words > ds/images/pair_0002.txt
check test "$(wc -w < ds/images/pair_0002.txt)" = 8000 -- "the caption has 8000 words"
expect_fail -c 2 "$BIN" cache --config config.json
expect_grep 'ds/images/pair_0002.txt: prompt too long: [0-9]+ tokens of prompt embedding'
write_configs longcat_image edit "$ROOT/tests/data/models/longcat_edit"
expect_ok "$BIN" cache --config config.json
expect_grep 'prompt truncated to 512 tokens'
expect_grep 'caches: 0 VAE latents reused, 6 computed; 0 prompt embeddings reused, [0-9]+ computed'

# a LoRA file whose header has two __metadata__ keys (crashed every reader): exit 1 naming file and key
printf '{"__metadata__": {"a": "1", "b": "2"}, "__metadata__": {"c": "3"}}' > hdr.json
{ perl -e 'print pack("Q<", -s "hdr.json")'; cat hdr.json; } > twice.safetensors
expect_fail -c 1 "$BIN" validate --config config.json --image ds/reference/pair_0000.png --prompt x \
    --lora twice.safetensors --output v.png
expect_grep "twice.safetensors: corrupt safetensors header: key '__metadata__' appears twice"
echo "bad inputs: ok"
