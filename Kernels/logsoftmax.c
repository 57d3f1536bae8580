// Row log-softmax and its backward pass.
//
// Forward, per row: m = max(x) ignoring NaN; shift = m, or 0 when m = -inf (fully masked row);
// lse = log(sum(exp(x - shift))), or 0 when the sum is 0 (fully masked row); y = (x - shift) - lse.
// So -inf entries and fully masked rows give -inf, and a NaN or +inf entry makes the whole row NaN.
// The single log per row uses logf on every path.
//
// Backward: sum(dy) is not normalised, so every path accumulates it in double (it scales exp(y) directly).

#include "kiban_kernels.h"
#include "vecmath.h"

static float log_softmax_shift(float max)
{
    return max == -INFINITY ? 0.0f : max;
}

static float log_softmax_lse(float sum)
{
    return sum == 0.0f ? 0.0f : logf(sum);
}

// ---- scalar reference ----

void kb_log_softmax_rows_scalar(const float *x, float *y, long rows, long n)
{
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float max = -INFINITY;
        for (long i = 0; i < n; i++)
            if (xr[i] > max)
                max = xr[i];
        float shift = log_softmax_shift(max);
        float sum = 0.0f;
        for (long i = 0; i < n; i++)
            sum += expf(xr[i] - shift);
        float lse = log_softmax_lse(sum);
        for (long i = 0; i < n; i++)
            yr[i] = (xr[i] - shift) - lse;
    }
}

void kb_log_softmax_rows_backward_scalar(const float *y, const float *dy, float *dx, long rows, long n)
{
    for (long r = 0; r < rows; r++) {
        const float *yr = y + r * n, *dyr = dy + r * n;
        float *dxr = dx + r * n;
        double sum = 0.0;
        for (long i = 0; i < n; i++)
            sum += (double)dyr[i];
        float s = (float)sum;
        for (long i = 0; i < n; i++)
            dxr[i] = dyr[i] - expf(yr[i]) * s;
    }
}

#if defined(__x86_64__)

// ---- AVX2 ----

KB_AVX2 void kb_log_softmax_rows_avx2(const float *x, float *y, long rows, long n)
{
    const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        __m256 max = neg_inf;
        for (long i = 0; i < n; i += 8)
            max = _mm256_max_ps(v8_load(xr + i, n - i, neg_inf), max);
        __m256 shift = _mm256_set1_ps(log_softmax_shift(v8_hmax(max)));
        __m256 sum = _mm256_setzero_ps();
        for (long i = 0; i < n; i += 8)
            sum = _mm256_add_ps(sum, v8_exp(_mm256_sub_ps(v8_load(xr + i, n - i, neg_inf), shift)));
        __m256 lse = _mm256_set1_ps(log_softmax_lse(v8_hsum(sum)));
        for (long i = 0; i < n; i += 8) {
            __m256 t = _mm256_sub_ps(v8_load(xr + i, n - i, neg_inf), shift);
            v8_store(yr + i, _mm256_sub_ps(t, lse), n - i);
        }
    }
}

KB_AVX2 void kb_log_softmax_rows_backward_avx2(const float *y, const float *dy, float *dx, long rows, long n)
{
    const __m256 zero = _mm256_setzero_ps();
    for (long r = 0; r < rows; r++) {
        const float *yr = y + r * n, *dyr = dy + r * n;
        float *dxr = dx + r * n;
        __m256 sum = _mm256_set1_ps((float)v8_sum_double(dyr, n));
        for (long i = 0; i < n; i += 8) {
            __m256 p = _mm256_mul_ps(v8_exp(v8_load(yr + i, n - i, zero)), sum);
            v8_store(dxr + i, _mm256_sub_ps(v8_load(dyr + i, n - i, zero), p), n - i);
        }
    }
}

// ---- AVX-512 ----

KB_AVX512 void kb_log_softmax_rows_avx512(const float *x, float *y, long rows, long n)
{
    const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        __m512 max = neg_inf;
        for (long i = 0; i < n; i += 16)
            max = _mm512_max_ps(v16_load(xr + i, n - i, neg_inf), max);
        __m512 shift = _mm512_set1_ps(log_softmax_shift(_mm512_reduce_max_ps(max)));
        __m512 sum = _mm512_setzero_ps();
        for (long i = 0; i < n; i += 16)
            sum = _mm512_add_ps(sum, v16_exp(_mm512_sub_ps(v16_load(xr + i, n - i, neg_inf), shift)));
        __m512 lse = _mm512_set1_ps(log_softmax_lse(_mm512_reduce_add_ps(sum)));
        for (long i = 0; i < n; i += 16) {
            __m512 t = _mm512_sub_ps(v16_load(xr + i, n - i, neg_inf), shift);
            v16_store(yr + i, _mm512_sub_ps(t, lse), n - i);
        }
    }
}

KB_AVX512 void kb_log_softmax_rows_backward_avx512(const float *y, const float *dy, float *dx, long rows, long n)
{
    const __m512 zero = _mm512_setzero_ps();
    for (long r = 0; r < rows; r++) {
        const float *yr = y + r * n, *dyr = dy + r * n;
        float *dxr = dx + r * n;
        __m512 sum = _mm512_set1_ps((float)v16_sum_double(dyr, n));
        for (long i = 0; i < n; i += 16) {
            __m512 p = _mm512_mul_ps(v16_exp(v16_load(yr + i, n - i, zero)), sum);
            v16_store(dxr + i, _mm512_sub_ps(v16_load(dyr + i, n - i, zero), p), n - i);
        }
    }
}

#endif

// ---- dispatch ----

void kb_log_softmax_rows(const float *x, float *y, long rows, long n)
{
    switch (kb_active_path()) {
#if defined(__x86_64__)
    case KB_PATH_AVX512: kb_log_softmax_rows_avx512(x, y, rows, n); break;
    case KB_PATH_AVX2: kb_log_softmax_rows_avx2(x, y, rows, n); break;
#endif
    default: kb_log_softmax_rows_scalar(x, y, rows, n); break;
    }
}

void kb_log_softmax_rows_backward(const float *y, const float *dy, float *dx, long rows, long n)
{
    switch (kb_active_path()) {
#if defined(__x86_64__)
    case KB_PATH_AVX512: kb_log_softmax_rows_backward_avx512(y, dy, dx, rows, n); break;
    case KB_PATH_AVX2: kb_log_softmax_rows_backward_avx2(y, dy, dx, rows, n); break;
#endif
    default: kb_log_softmax_rows_backward_scalar(y, dy, dx, rows, n); break;
    }
}
