// Symmetric per-row int8 quantisation: scale = max|x| / 127, q = round_half_even(x / scale), clamped to ±127.
// A row of zeros has scale 0 and q = 0 (no 0/0). A NaN anywhere in a row makes its scale NaN (so its GEMM outputs
// are NaN, not silently finite); its quotients are NaN and clamp to -127 on both paths. Both paths divide (correctly rounded)
// and round half to even, so they agree bit for bit.

#include <math.h>
#include <stdint.h>

#include "kiban_kernels.h"

// ---- scalar reference ----

void kb_quantize_rows_int8_scalar(const float *x, int8_t *q, float *scales, long rows, long n)
{
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        int8_t *qr = q + r * n;
        float max = 0.0f;
        for (long i = 0; i < n; i++) {
            float a = fabsf(xr[i]);
            if (isnan(a) || a > max) // nothing is > NaN, so a NaN max stays
                max = a;
        }
        float scale = max / 127.0f;
        scales[r] = scale;
        for (long i = 0; i < n; i++) {
            float v = scale == 0.0f ? 0.0f : xr[i] / scale;
            v = fminf(fmaxf(v, -127.0f), 127.0f);
            qr[i] = (int8_t)lrintf(v);
        }
    }
}

// ---- AVX-512 ----

#if defined(__x86_64__)
#include "vecmath.h"

KB_AVX512 void kb_quantize_rows_int8_avx512(const float *x, int8_t *q, float *scales, long rows, long n)
{
    const __m512 zero = _mm512_setzero_ps(), low = _mm512_set1_ps(-127.0f), high = _mm512_set1_ps(127.0f);
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        int8_t *qr = q + r * n;
        __m512 max = zero;
        __mmask16 nan = 0;
        for (long i = 0; i < n; i += 16) {
            __m512 v = v16_load(xr + i, n - i, zero);
            nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
            max = _mm512_max_ps(max, _mm512_abs_ps(v));
        }
        float scale = nan ? NAN : _mm512_reduce_max_ps(max) / 127.0f;
        scales[r] = scale;
        if (scale == 0.0f) {
            for (long i = 0; i < n; i++)
                qr[i] = 0;
            continue;
        }
        __m512 divisor = _mm512_set1_ps(scale);
        for (long i = 0; i < n; i += 16) {
            __m512 v = _mm512_div_ps(v16_load(xr + i, n - i, zero), divisor);
            v = _mm512_min_ps(_mm512_max_ps(v, low), high);
            __m128i bytes = _mm512_cvtsepi32_epi8(_mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
            _mm_mask_storeu_epi8(qr + i, n - i >= 16 ? (__mmask16)0xFFFF : v16_tail_mask(n - i), bytes);
        }
    }
}
#endif

// ---- dispatcher ----

void kb_quantize_rows_int8(const float *x, int8_t *q, float *scales, long rows, long n)
{
#if defined(__x86_64__)
    if (kb_active_path() == KB_PATH_AVX512) {
        kb_quantize_rows_int8_avx512(x, q, scales, rows, n);
        return;
    }
#endif
    kb_quantize_rows_int8_scalar(x, q, scales, rows, n);
}
