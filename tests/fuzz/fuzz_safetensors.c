/* libFuzzer target: the safetensors reader on arbitrary files (header and data), then every tensor
 * read as f32 the ways the models read them (st_to_f32, and weight_rows_f32 for float matrices). */
#include "fuzz_common.h"
#include "kernels/linear.h"
#include "tensor/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    char path[128];
    fuzz_write(FUZZ_PATH(path, "x.safetensors"), data, n);
    StFile f; Err e = {0};
    if (st_open(&f, path, &e)) return 0;
    for (int i = 0; i < f.n; i++) {
        const StTensor *t = &f.t[i];
        if (t->numel > (1u << 24)) continue;   /* a valid 64 MiB tensor is not a finding */
        float *x = st_to_f32(t);
        volatile float sink = t->numel ? x[t->numel - 1] : 0;
        (void)sink;
        free(x);
        DType d = t->dtype;
        if (t->ndim == 2 && (d == DT_F32 || d == DT_BF16 || d == DT_F16) && t->shape[0] > 0 && t->shape[0] < (1 << 20) && t->shape[1] < (1 << 20)) {
            Weight w = {d, t->data, (int)t->shape[0], (int)t->shape[1], QUANT_NONE, NULL, 0};
            float *rows = malloc((size_t)w.cols * sizeof(float) + 4);
            weight_rows_f32(&w, w.rows - 1, 1, rows);
            free(rows);
        }
    }
    st_meta(&f, "format");
    st_close(&f);
    return 0;
}
