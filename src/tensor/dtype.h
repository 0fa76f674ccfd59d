/* dtype.h — element types of safetensors files and conversions to/from f32. */
#ifndef ST_DTYPE_H
#define ST_DTYPE_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    DT_F32, DT_F16, DT_BF16, DT_F8_E4M3, DT_F8_E5M2, DT_F64,
    DT_I64, DT_I32, DT_I16, DT_I8, DT_U8, DT_BOOL, DT_COUNT
} DType;

const char *dtype_name(DType t);           /* safetensors spelling: "F32", "BF16", "F8_E4M3", ... */
int dtype_from_name(const char *s, DType *t); /* 0 ok, -1 unknown */
size_t dtype_size(DType t);                /* bytes per element */

static inline float bf16_to_f32(uint16_t h) {
    union { uint32_t u; float f; } v = { .u = (uint32_t)h << 16 };
    return v.f;
}
/* Round-to-nearest-even, NaN kept NaN. */
static inline uint16_t f32_to_bf16(float f) {
    union { uint32_t u; float f; } v = { .f = f };
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((v.u >> 16) | 0x40);
    uint32_t rounding = 0x7fffu + ((v.u >> 16) & 1u);
    return (uint16_t)((v.u + rounding) >> 16);
}
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
float f8e4m3_to_f32(uint8_t b);
uint8_t f32_to_f8e4m3(float f);  /* saturating to ±448, round to nearest even */
float f8e5m2_to_f32(uint8_t b);

/* Converts n elements of type t at src into f32 (integers and bools by value). */
void dtype_to_f32(DType t, const void *src, float *dst, size_t n);
/* Converts n f32 values into type t (floating types only; integers rounded). */
void dtype_from_f32(DType t, const float *src, void *dst, size_t n);

#endif
