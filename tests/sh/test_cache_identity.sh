#!/usr/bin/env bash
# Cache identity (issue 18 item 9): latents are drawn from the VAE's distribution with the run's seed,
# so another seed recomputes them; another VAE or text-encoder folder (SimpleTuner's
# pretrained_vae_model_name_or_path / qwen_text_encoder_model_name_or_path) or weights replaced in
# place recompute what they shape, and nothing else.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BIN=$(st_bin)
MODEL=$(pwd)/tests/data/models/qwenimage_edit
st_workdir
cd "$ST_DIR"
export OMP_NUM_THREADS=2
"$BIN" make-dataset --kind edit-pairs --out ds --count 2 --size 64x64 > /dev/null
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
 "output_dir": "out", "data_backend_config": "multidatabackend.json", "optimizer": "adamw_bf16", "seed": 3, "train_batch_size": 1,
 "caption_dropout_probability": 0.0}
JSON
caches() { expect_ok "$BIN" cache --config config.json "$@"; grep -E "^caches:" "$ST_OUT"; }

check test "$(caches)" = "caches: 0 VAE latents reused, 4 computed; 0 prompt embeddings reused, 2 computed" -- "first run computes all"
check test "$(caches)" = "caches: 4 VAE latents reused, 0 computed; 2 prompt embeddings reused, 0 computed" -- "second run reuses all"
# another seed: other latent draws, the same prompt embeddings
check test "$(caches seed=4)" = "caches: 0 VAE latents reused, 4 computed; 2 prompt embeddings reused, 0 computed" -- "seed keys the latents"
# another VAE folder with the same bytes is another VAE as far as the cache knows
cp -r "$MODEL/vae" vae_copy
check test "$(caches pretrained_vae_model_name_or_path=vae_copy)" = "caches: 0 VAE latents reused, 4 computed; 2 prompt embeddings reused, 0 computed" -- "the VAE folder keys the latents"
# another text encoder folder: prompt embeddings again, latents reused (an entry holds the last
# identity it was made for, so the VAE stays the copy here)
cp -r "$MODEL/text_encoder" te_copy
check test "$(caches pretrained_vae_model_name_or_path=vae_copy qwen_text_encoder_model_name_or_path=te_copy)" = \
    "caches: 4 VAE latents reused, 0 computed; 0 prompt embeddings reused, 2 computed" -- "the text encoder keys the embeddings"
# weights replaced in place (same folder, new file): recomputed
check test "$(caches pretrained_vae_model_name_or_path=vae_copy qwen_text_encoder_model_name_or_path=te_copy)" = \
    "caches: 4 VAE latents reused, 0 computed; 2 prompt embeddings reused, 0 computed" -- "copies reused"
touch -d '2001-01-01' vae_copy/diffusion_pytorch_model.safetensors
check test "$(caches pretrained_vae_model_name_or_path=vae_copy qwen_text_encoder_model_name_or_path=te_copy)" = \
    "caches: 0 VAE latents reused, 4 computed; 2 prompt embeddings reused, 0 computed" -- "replaced weights recompute"
echo "cache identity ok"
