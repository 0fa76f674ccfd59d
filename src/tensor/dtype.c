#include "tensor/dtype.h"
#include <math.h>
#include <string.h>

static const struct { const char *name; size_t size; } DTYPES[DT_COUNT] = {
    [DT_F32] = {"F32", 4}, [DT_F16] = {"F16", 2}, [DT_BF16] = {"BF16", 2},
    [DT_F8_E4M3] = {"F8_E4M3", 1}, [DT_F8_E5M2] = {"F8_E5M2", 1}, [DT_F64] = {"F64", 8},
    [DT_I64] = {"I64", 8}, [DT_I32] = {"I32", 4}, [DT_I16] = {"I16", 2}, [DT_I8] = {"I8", 1},
    [DT_U8] = {"U8", 1}, [DT_BOOL] = {"BOOL", 1},
};

const char *dtype_name(DType t) { return (unsigned)t < DT_COUNT ? DTYPES[t].name : "?"; }
size_t dtype_size(DType t) { return (unsigned)t < DT_COUNT ? DTYPES[t].size : 0; }

int dtype_from_name(const char *s, DType *t) {
    for (int i = 0; i < DT_COUNT; i++)
        if (strcmp(s, DTYPES[i].name) == 0) { *t = (DType)i; return 0; }
    return -1;
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    union { uint32_t u; float f; } v;
    if (exp == 0) {
        float f = ldexpf((float)man, -24);
        return sign ? -f : f;
    } else if (exp == 31) {
        v.u = sign | 0x7f800000u | (man << 13);
    } else {
        v.u = sign | ((exp + 112) << 23) | (man << 13);
    }
    return v.f;
}

uint16_t f32_to_f16(float f) {
    union { uint32_t u; float f; } v = { .f = f };
    uint32_t sign = (v.u >> 16) & 0x8000u;
    float a = fabsf(f);
    if (isnan(f)) return (uint16_t)(sign | 0x7e00);
    if (a >= 65520.0f) return (uint16_t)(sign | 0x7c00);
    if (a < 6.103515625e-05f) { /* subnormal: multiples of 2^-24, round half to even */
        float q = nearbyintf(a * 16777216.0f);
        return (uint16_t)(sign | (uint16_t)q);
    }
    uint32_t u = v.u & 0x7fffffffu;
    uint32_t rounding = 0xfffu + ((u >> 13) & 1u);
    u += rounding;
    uint32_t exp = (u >> 23) - 112, man = (u >> 13) & 0x3ff;
    return (uint16_t)(sign | (exp << 10) | man);
}

float f8e4m3_to_f32(uint8_t b) {
    int sign = b >> 7, exp = (b >> 3) & 0xf, man = b & 7;
    float f;
    if (exp == 15 && man == 7) return NAN;
    if (exp == 0) f = ldexpf((float)man, -9);
    else f = ldexpf(1.0f + man / 8.0f, exp - 7);
    return sign ? -f : f;
}

uint8_t f32_to_f8e4m3(float f) {
    if (isnan(f)) return 0x7f;
    uint8_t sign = signbit(f) ? 0x80 : 0;
    float a = fabsf(f);
    if (a >= 448.0f) return sign | 0x7e;
    /* Search by rounding: compute exponent, quantise mantissa to 3 bits, ties to even. */
    int e;
    frexpf(a, &e); /* a = m * 2^e, m in [0.5,1) → normal exponent e-1 */
    int exp = e - 1;
    if (exp < -6) exp = -6; /* subnormal range uses step 2^-9 */
    float step = ldexpf(1.0f, exp - 3);
    float q = nearbyintf(a / step) * step;
    if (q == 0.0f) return sign;
    /* re-encode q exactly */
    int qe; frexpf(q, &qe); int qexp = qe - 1;
    if (qexp < -6) { int man = (int)(q / ldexpf(1.0f, -9)); return sign | (uint8_t)man; }
    int man = (int)((q / ldexpf(1.0f, qexp) - 1.0f) * 8.0f + 0.5f);
    return sign | (uint8_t)((qexp + 7) << 3) | (uint8_t)man;
}

float f8e5m2_to_f32(uint8_t b) { return f16_to_f32((uint16_t)b << 8); }

void dtype_to_f32(DType t, const void *src, float *dst, size_t n) {
    const unsigned char *s = src;
    switch (t) {
    case DT_F32: memcpy(dst, src, n * 4); break;
    case DT_BF16: for (size_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, s + 2 * i, 2); dst[i] = bf16_to_f32(h); } break;
    case DT_F16: for (size_t i = 0; i < n; i++) { uint16_t h; memcpy(&h, s + 2 * i, 2); dst[i] = f16_to_f32(h); } break;
    case DT_F8_E4M3: for (size_t i = 0; i < n; i++) dst[i] = f8e4m3_to_f32(s[i]); break;
    case DT_F8_E5M2: for (size_t i = 0; i < n; i++) dst[i] = f8e5m2_to_f32(s[i]); break;
    case DT_F64: for (size_t i = 0; i < n; i++) { double d; memcpy(&d, s + 8 * i, 8); dst[i] = (float)d; } break;
    case DT_I64: for (size_t i = 0; i < n; i++) { int64_t v; memcpy(&v, s + 8 * i, 8); dst[i] = (float)v; } break;
    case DT_I32: for (size_t i = 0; i < n; i++) { int32_t v; memcpy(&v, s + 4 * i, 4); dst[i] = (float)v; } break;
    case DT_I16: for (size_t i = 0; i < n; i++) { int16_t v; memcpy(&v, s + 2 * i, 2); dst[i] = (float)v; } break;
    case DT_I8: for (size_t i = 0; i < n; i++) dst[i] = (float)(int8_t)s[i]; break;
    case DT_U8: case DT_BOOL: for (size_t i = 0; i < n; i++) dst[i] = (float)s[i]; break;
    default: break;
    }
}

void dtype_from_f32(DType t, const float *src, void *dst, size_t n) {
    unsigned char *d = dst;
    switch (t) {
    case DT_F32: memcpy(dst, src, n * 4); break;
    case DT_BF16: for (size_t i = 0; i < n; i++) { uint16_t h = f32_to_bf16(src[i]); memcpy(d + 2 * i, &h, 2); } break;
    case DT_F16: for (size_t i = 0; i < n; i++) { uint16_t h = f32_to_f16(src[i]); memcpy(d + 2 * i, &h, 2); } break;
    case DT_F8_E4M3: for (size_t i = 0; i < n; i++) d[i] = f32_to_f8e4m3(src[i]); break;
    case DT_F64: for (size_t i = 0; i < n; i++) { double v = src[i]; memcpy(d + 8 * i, &v, 8); } break;
    case DT_I64: for (size_t i = 0; i < n; i++) { int64_t v = (int64_t)llrintf(src[i]); memcpy(d + 8 * i, &v, 8); } break;
    case DT_I32: for (size_t i = 0; i < n; i++) { int32_t v = (int32_t)lrintf(src[i]); memcpy(d + 4 * i, &v, 4); } break;
    case DT_I16: for (size_t i = 0; i < n; i++) { int16_t v = (int16_t)lrintf(src[i]); memcpy(d + 2 * i, &v, 2); } break;
    case DT_I8: for (size_t i = 0; i < n; i++) d[i] = (unsigned char)(int8_t)lrintf(src[i]); break;
    case DT_U8: case DT_BOOL: for (size_t i = 0; i < n; i++) d[i] = (unsigned char)lrintf(src[i]); break;
    default: break;
    }
}
