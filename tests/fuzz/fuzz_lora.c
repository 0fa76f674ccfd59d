/* libFuzzer target: LoRA file loading (diffusers/PEFT, kohya, ComfyUI and LyCORIS-prefixed names,
 * .alpha tensors, lora_adapter_metadata) against a fixed list of module names. */
#include "fuzz_common.h"
#include "models/adapter/lora_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char path[128];
    fuzz_write(FUZZ_PATH(path, "lora.safetensors"), data, n);
    LoraEntry *v; int nv; Err e = {0};
    if (lora_read(path, FUZZ_LORA_MODULES, FUZZ_LORA_N_MODULES, &v, &nv, &e)) return 0;
    for (int i = 0; i < nv; i++) {   /* what the adapters then read: A [r, in], B [out, r] */
        volatile float s = v[i].A[(size_t)v[i].r * v[i].in - 1] + v[i].B[(size_t)v[i].out * v[i].r - 1] + v[i].scale;
        (void)s;
    }
    lora_entries_free(v, nv);
    return 0;
}
