// Row softmax and its backward pass.
//
// Forward, per row: m = max(x) ignoring NaN (start at -inf, keep x if x > m); shift = m, or 0 when m = -inf so a
// fully masked row does not compute -inf - -inf; e = exp(x - shift); y = e * (1 / sum(e)), with 1/sum replaced
// by 0 when sum = 0 (only a fully masked row has sum 0, it has sum >= 1 otherwise). A NaN or +inf entry makes
// sum NaN, so the whole row is NaN on every path.

#include "kiban_kernels.h"
#include "vecmath.h"

static float softmax_shift(float max)
{
    return max == -INFINITY ? 0.0f : max;
}

static float softmax_scale(float sum)
{
    return sum == 0.0f ? 0.0f : 1.0f / sum;
}

// ---- scalar reference ----

void kb_softmax_rows_scalar(const float *x, float *y, long rows, long n)
{
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float max = -INFINITY;
        for (long i = 0; i < n; i++)
            if (xr[i] > max)
                max = xr[i];
        float shift = softmax_shift(max);
        float sum = 0.0f;
        for (long i = 0; i < n; i++) {
            yr[i] = expf(xr[i] - shift);
            sum += yr[i];
        }
        float scale = softmax_scale(sum);
        for (long i = 0; i < n; i++)
            yr[i] *= scale;
    }
}

void kb_softmax_rows_backward_scalar(const float *y, const float *dy, float *dx, long rows, long n)
{
    for (long r = 0; r < rows; r++) {
        const float *yr = y + r * n, *dyr = dy + r * n;
        float *dxr = dx + r * n;
        float dot = 0.0f;
        for (long i = 0; i < n; i++)
            dot += dyr[i] * yr[i];
        for (long i = 0; i < n; i++)
            dxr[i] = yr[i] * (dyr[i] - dot);
    }
}

#if defined(__x86_64__)

// ---- AVX2 ----

KB_AVX2 void kb_softmax_rows_avx2(const float *x, float *y, long rows, long n)
{
    const __m256 neg_inf = _mm256_set1_ps(-INFINITY), zero = _mm256_setzero_ps();
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        __m256 max = neg_inf;
        for (long i = 0; i < n; i += 8)
            max = _mm256_max_ps(v8_load(xr + i, n - i, neg_inf), max);
        __m256 shift = _mm256_set1_ps(softmax_shift(v8_hmax(max)));
        __m256 sum = zero;
        for (long i = 0; i < n; i += 8) {
            __m256 e = v8_exp(_mm256_sub_ps(v8_load(xr + i, n - i, neg_inf), shift));
            sum = _mm256_add_ps(sum, e);
            v8_store(yr + i, e, n - i);
        }
        __m256 scale = _mm256_set1_ps(softmax_scale(v8_hsum(sum)));
        for (long i = 0; i < n; i += 8)
            v8_store(yr + i, _mm256_mul_ps(v8_load(yr + i, n - i, zero), scale), n - i);
    }
}

KB_AVX2 void kb_softmax_rows_backward_avx2(const float *y, const float *dy, float *dx, long rows, long n)
{
    const __m256 zero = _mm256_setzero_ps();
    for (long r = 0; r < rows; r++) {
        const float *yr = y + r * n, *dyr = dy + r * n;
        float *dxr = dx + r * n;
        __m256 acc = zero;
        for (long i = 0; i < n; i += 8)
            acc = _mm256_fmadd_ps(v8_load(dyr + i, n - i, zero), v8_load(yr + i, n - i, zero), acc);
        __m256 dot = _mm256_set1_ps(v8_hsum(acc));
        for (long i = 0; i < n; i += 8) {
            __m256 d = _mm256_sub_ps(v8_load(dyr + i, n - i, zero), dot);
            v8_store(dxr + i, _mm256_mul_ps(v8_load(yr + i, n - i, zero), d), n - i);
        }
    }
}

// ---- AVX-512 ----

KB_AVX512 void kb_softmax_rows_avx512(const float *x, float *y, long rows, long n)
{
    const __m512 neg_inf = _mm512_set1_ps(-INFINITY), zero = _mm512_setzero_ps();
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        __m512 max = neg_inf;
        for (long i = 0; i < n; i += 16)
            max = _mm512_max_ps(v16_load(xr + i, n - i, neg_inf), max);
        __m512 shift = _mm512_set1_ps(softmax_shift(_mm512_reduce_max_ps(max)));
        __m512 sum = zero;
        for (long i = 0; i < n; i += 16) {
            __m512 e = v16_exp(_mm512_sub_ps(v16_load(xr + i, n - i, neg_inf), shift));
            sum = _mm512_add_ps(sum, e);
            v16_store(yr + i, e, n - i);
        }
        __m512 scale = _mm512_set1_ps(softmax_scale(_mm512_reduce_add_ps(sum)));
        for (long i = 0; i < n; i += 16)
            v16_store(yr + i, _mm512_mul_ps(v16_load(yr + i, n - i, zero), scale), n - i);
    }
}

KB_AVX512 void kb_softmax_rows_backward_avx512(const float *y, const float *dy, float *dx, long rows, long n)
{
    const __m512 zero = _mm512_setzero_ps();
    for (long r = 0; r < rows; r++) {
        const float *yr = y + r * n, *dyr = dy + r * n;
        float *dxr = dx + r * n;
        __m512 acc = zero;
        for (long i = 0; i < n; i += 16)
            acc = _mm512_fmadd_ps(v16_load(dyr + i, n - i, zero), v16_load(yr + i, n - i, zero), acc);
        __m512 dot = _mm512_set1_ps(_mm512_reduce_add_ps(acc));
        for (long i = 0; i < n; i += 16) {
            __m512 d = _mm512_sub_ps(v16_load(dyr + i, n - i, zero), dot);
            v16_store(dxr + i, _mm512_mul_ps(v16_load(yr + i, n - i, zero), d), n - i);
        }
    }
}

#endif

// ---- dispatch ----

void kb_softmax_rows(const float *x, float *y, long rows, long n)
{
    switch (kb_active_path()) {
#if defined(__x86_64__)
    case KB_PATH_AVX512: kb_softmax_rows_avx512(x, y, rows, n); break;
    case KB_PATH_AVX2: kb_softmax_rows_avx2(x, y, rows, n); break;
#endif
    default: kb_softmax_rows_scalar(x, y, rows, n); break;
    }
}

void kb_softmax_rows_backward(const float *y, const float *dy, float *dx, long rows, long n)
{
    switch (kb_active_path()) {
#if defined(__x86_64__)
    case KB_PATH_AVX512: kb_softmax_rows_backward_avx512(y, dy, dx, rows, n); break;
    case KB_PATH_AVX2: kb_softmax_rows_backward_avx2(y, dy, dx, rows, n); break;
#endif
    default: kb_softmax_rows_backward_scalar(y, dy, dx, rows, n); break;
    }
}
