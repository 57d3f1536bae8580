// int8 × int8 → int32 GEMM against pre-packed weights (W8A8), with a float epilogue.
//
// Legend: m activation rows (tokens), n output channels, k input features; kp = k rounded up to 4, np = n rounded
// up to 16. acc[i, j] = Σ_k x[i, k] · w[j, k] exactly in int32.
//
// Packed weights (kb_int8_pack_weights): np / 16 panels of 16 output channels, then np int32 column sums.
// Panel j / 16 holds kp / 4 groups of 64 bytes; group g holds, for each of its 16 channels c, the 4 bytes
// w[j, 4g .. 4g + 3] at offset 4c. Padding bytes and padding channels are 0.
//
// AVX-512 VNNI: vpdpbusd multiplies unsigned bytes by signed bytes and adds groups of 4 into int32 lanes, so the
// activations are shifted to u = x + 128 (x XOR 0x80) and Σ_k u·w = acc + 128 · Σ_k w[j, k]; the column sums are
// stored at packing time and subtracted in the epilogue. vpdpbusd wraps modulo 2^32, so the subtraction is exact
// whenever acc itself fits int32 (k ≤ 131072). Register tile: MR = 6 rows × NR = 4 panels (64 channels), 24 zmm
// accumulators; the activation rows of an MC-row block are re-packed once (shifted, 4 bytes of each of MR rows per
// k group) so the micro-kernel reads one sequential stream of broadcasts and NR streams of weights.

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kiban_kernels.h"

static long round_up(long value, long multiple)
{
    return (value + multiple - 1) / multiple * multiple;
}

long kb_int8_packed_bytes(long n, long k)
{
    long np = round_up(n, 16);
    return np * round_up(k, 4) + np * (long)sizeof(int32_t);
}

/// Offset of w[j, t] (channel j, feature t) in the packed panels.
static long packed_offset(long j, long t, long kp)
{
    return (j / 16) * 16 * kp + ((t / 4) * 16 + j % 16) * 4 + t % 4;
}

void kb_int8_pack_weights(const int8_t *w, long n, long k, void *packed)
{
    long kp = round_up(k, 4), np = round_up(n, 16);
    int8_t *panels = packed;
    int32_t *sums = (int32_t *)(panels + np * kp);
    memset(packed, 0, (size_t)kb_int8_packed_bytes(n, k));
    for (long j = 0; j < n; j++)
        for (long t = 0; t < k; t++) {
            panels[packed_offset(j, t, kp)] = w[j * k + t];
            sums[j] += w[j * k + t];
        }
}

// ---- scalar reference ----

/// acc[i, j] for one row x: (k) and one channel j, read from the packed panels.
static int32_t dot_packed(const int8_t *x, const int8_t *packed, long j, long k)
{
    long kp = round_up(k, 4);
    int32_t acc = 0;
    for (long t = 0; t < k; t++)
        acc += (int32_t)x[t] * (int32_t)packed[packed_offset(j, t, kp)];
    return acc;
}

void kb_int8_gemm_s32_scalar(const int8_t *xq, const void *packed, int32_t *acc, long m, long n, long k)
{
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++)
            acc[i * n + j] = dot_packed(xq + i * k, packed, j, k);
}

void kb_int8_gemm_scalar(const int8_t *xq, const float *x_scales, const void *packed, const float *w_scales,
                         const float *bias, float *y, long m, long n, long k)
{
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            float v = (float)dot_packed(xq + i * k, packed, j, k);
            v = v * w_scales[j];
            v = v * x_scales[i];
            if (bias != NULL)
                v = v + bias[j];
            y[i * n + j] = v;
        }
}

// ---- AVX-512 VNNI ----

#if defined(__x86_64__)
#include <immintrin.h>

#define KB_VNNI __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#define KB_INLINE static inline __attribute__((always_inline))
#define KB_UNROLL _Pragma("GCC unroll 8")

enum { MR = 6, NR = 4, MC = 16 * MR };

/// The column sums Σ_k w[j, k]: (np), after the panels.
static const int32_t *column_sums(const void *packed, long n, long k)
{
    return (const int32_t *)((const int8_t *)packed + round_up(n, 16) * round_up(k, 4));
}

/// Where a tile's results go: int32 accumulators (acc) or the dequantised floats (y and its scales, bias).
typedef struct {
    int32_t *acc;
    float *y;
    const float *x_scales, *w_scales, *bias;
} epilogue;

/// Re-packs rows [0, rows) of x: (rows, k) into blocks of MR rows: a[(block · groups + g) · MR + r] holds
/// x[block · MR + r, 4g .. 4g + 3] XOR 0x80 as 4 bytes; bytes past k and rows past `rows` are 0.
static void pack_activations(const int8_t *x, long rows, long k, long groups, int32_t *a)
{
    for (long row = 0; row < round_up(rows, MR); row++) {
        int32_t *block = a + (row / MR) * groups * MR + row % MR;
        for (long g = 0; g < groups; g++) {
            uint32_t word = 0;
            if (row < rows && 4 * g + 4 <= k) {
                memcpy(&word, x + row * k + 4 * g, 4);
                word ^= 0x80808080u;
            } else if (row < rows) {
                uint8_t bytes[4] = {0, 0, 0, 0};
                for (long t = 0; 4 * g + t < k; t++)
                    bytes[t] = (uint8_t)(x[row * k + 4 * g + t] ^ 0x80);
                memcpy(&word, bytes, 4);
            }
            memcpy(block + g * MR, &word, 4);
        }
    }
}

/// One MR × (16 · panels) tile: rows row .. row + rows - 1 (rows ≤ MR) of the output, channels col ..; a: the
/// tile's packed activation block, b: its first weight panel (panels are panel_bytes apart).
KB_INLINE KB_VNNI void vnni_tile(const int32_t *a, const int8_t *b, long panel_bytes, long groups, const int panels,
                                 int rows, long row, long col, long n, const int32_t *sums, const epilogue *out)
{
    __m512i acc[MR][NR];
    KB_UNROLL for (int r = 0; r < MR; r++)
        KB_UNROLL for (int p = 0; p < NR; p++)
            acc[r][p] = _mm512_setzero_si512();
    for (long g = 0; g < groups; g++) {
        __m512i w[NR];
        KB_UNROLL for (int p = 0; p < NR; p++)
            if (p < panels)
                w[p] = _mm512_loadu_si512(b + p * panel_bytes + g * 64);
        KB_UNROLL for (int r = 0; r < MR; r++) {
            __m512i u = _mm512_set1_epi32(a[g * MR + r]);
            KB_UNROLL for (int p = 0; p < NR; p++)
                if (p < panels)
                    acc[r][p] = _mm512_dpbusd_epi32(acc[r][p], u, w[p]);
        }
    }
    KB_UNROLL for (int p = 0; p < NR; p++) {
        if (p >= panels)
            break;
        long c = col + 16 * p;
        __mmask16 mask = n - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - c)) - 1u);
        __m512i shift = _mm512_slli_epi32(_mm512_loadu_si512(sums + c), 7);
        if (out->acc != NULL) {
            KB_UNROLL for (int r = 0; r < MR; r++)
                if (r < rows)
                    _mm512_mask_storeu_epi32(out->acc + (row + r) * n + c, mask, _mm512_sub_epi32(acc[r][p], shift));
            continue;
        }
        __m512 w_scale = _mm512_maskz_loadu_ps(mask, out->w_scales + c);
        __m512 bias = out->bias == NULL ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, out->bias + c);
        KB_UNROLL for (int r = 0; r < MR; r++) {
            if (r >= rows)
                break;
            __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][p], shift)), w_scale);
            v = _mm512_mul_ps(v, _mm512_set1_ps(out->x_scales[row + r]));
            if (out->bias != NULL)
                v = _mm512_add_ps(v, bias);
            _mm512_mask_storeu_ps(out->y + (row + r) * n + c, mask, v);
        }
    }
}

/// The blocked loop shared by both outputs: MC-row blocks of activations, NR-panel column blocks, MR-row tiles.
static KB_VNNI void vnni_gemm(const int8_t *xq, const void *packed, long m, long n, long k, const epilogue *out)
{
    long kp = round_up(k, 4), groups = kp / 4, panel_count = round_up(n, 16) / 16, panel_bytes = 16 * kp;
    const int8_t *panels = packed;
    const int32_t *sums = column_sums(packed, n, k);
    int32_t *a = aligned_alloc(64, (size_t)(MC * kp));
    if (a == NULL)
        abort();
    for (long i0 = 0; i0 < m; i0 += MC) {
        long block_rows = m - i0 < MC ? m - i0 : MC;
        pack_activations(xq + i0 * k, block_rows, k, groups, a);
        for (long p0 = 0; p0 < panel_count; p0 += NR) {
            const int8_t *b = panels + p0 * panel_bytes;
            long col = 16 * p0;
            for (long i = 0; i < block_rows; i += MR) {
                const int32_t *tile = a + (i / MR) * groups * MR;
                int rows = block_rows - i < MR ? (int)(block_rows - i) : MR;
                switch (panel_count - p0 < NR ? panel_count - p0 : NR) {
                case 4: vnni_tile(tile, b, panel_bytes, groups, 4, rows, i0 + i, col, n, sums, out); break;
                case 3: vnni_tile(tile, b, panel_bytes, groups, 3, rows, i0 + i, col, n, sums, out); break;
                case 2: vnni_tile(tile, b, panel_bytes, groups, 2, rows, i0 + i, col, n, sums, out); break;
                default: vnni_tile(tile, b, panel_bytes, groups, 1, rows, i0 + i, col, n, sums, out); break;
                }
            }
        }
    }
    free(a);
}

KB_VNNI void kb_int8_gemm_s32_avx512_vnni(const int8_t *xq, const void *packed, int32_t *acc, long m, long n, long k)
{
    epilogue out = {.acc = acc};
    vnni_gemm(xq, packed, m, n, k, &out);
}

KB_VNNI void kb_int8_gemm_avx512_vnni(const int8_t *xq, const float *x_scales, const void *packed,
                                      const float *w_scales, const float *bias, float *y, long m, long n, long k)
{
    epilogue out = {.y = y, .x_scales = x_scales, .w_scales = w_scales, .bias = bias};
    vnni_gemm(xq, packed, m, n, k, &out);
}
#endif

// ---- paths and dispatchers ----

int kb_int8_path_supported(kb_int8_path path)
{
    switch (path) {
    case KB_INT8_PATH_SCALAR:
        return 1;
    case KB_INT8_PATH_AVX512_VNNI:
#if defined(__x86_64__)
        __builtin_cpu_init();
        return kb_path_supported(KB_PATH_AVX512) && __builtin_cpu_supports("avx512vnni");
#else
        return 0;
#endif
    }
    return 0;
}

kb_int8_path kb_int8_active_path(void)
{
    if (kb_active_path() == KB_PATH_AVX512 && kb_int8_path_supported(KB_INT8_PATH_AVX512_VNNI))
        return KB_INT8_PATH_AVX512_VNNI;
    return KB_INT8_PATH_SCALAR;
}

const char *kb_int8_path_name(kb_int8_path path)
{
    switch (path) {
    case KB_INT8_PATH_SCALAR: return "scalar";
    case KB_INT8_PATH_AVX512_VNNI: return "avx512_vnni";
    }
    return "unknown";
}

void kb_int8_gemm_s32(const int8_t *xq, const void *packed, int32_t *acc, long m, long n, long k)
{
#if defined(__x86_64__)
    if (kb_int8_active_path() == KB_INT8_PATH_AVX512_VNNI) {
        kb_int8_gemm_s32_avx512_vnni(xq, packed, acc, m, n, k);
        return;
    }
#endif
    kb_int8_gemm_s32_scalar(xq, packed, acc, m, n, k);
}

void kb_int8_gemm(const int8_t *xq, const float *x_scales, const void *packed, const float *w_scales,
                  const float *bias, float *y, long m, long n, long k)
{
#if defined(__x86_64__)
    if (kb_int8_active_path() == KB_INT8_PATH_AVX512_VNNI) {
        kb_int8_gemm_avx512_vnni(xq, x_scales, packed, w_scales, bias, y, m, n, k);
        return;
    }
#endif
    kb_int8_gemm_scalar(xq, x_scales, packed, w_scales, bias, y, m, n, k);
}
