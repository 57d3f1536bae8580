// Layer norm forward and backward (as in llm.c).
// Forward is two-pass: the mean is accumulated in double (so every path rounds it to the same float, barring ties),
// the biased variance of (x - mean) in float. Vector paths accumulate in 8 or 16 lanes, then reduce; tail lanes
// are filled so they add 0.

#include "kiban_kernels.h"
#include "vecmath.h"

// ---- scalar reference ----

void kb_layernorm_forward_scalar(const float *x, const float *weight, const float *bias, float *y, float *mean,
                                 float *rstd, long rows, long n, float eps)
{
    if (n <= 0)
        return;
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        double sum = 0.0;
        for (long i = 0; i < n; i++)
            sum += (double)xr[i];
        float mu = (float)(sum / (double)n);
        float sq = 0.0f;
        for (long i = 0; i < n; i++) {
            float d = xr[i] - mu;
            sq += d * d;
        }
        float rs = 1.0f / sqrtf(sq / (float)n + eps);
        for (long i = 0; i < n; i++) {
            float xhat = (xr[i] - mu) * rs;
            float w = weight ? weight[i] : 1.0f;
            float b = bias ? bias[i] : 0.0f;
            yr[i] = xhat * w + b;
        }
        if (mean)
            mean[r] = mu;
        if (rstd)
            rstd[r] = rs;
    }
}

void kb_layernorm_backward_scalar(const float *x, const float *weight, const float *mean, const float *rstd,
                                  const float *dy, float *dx, float *dweight, float *dbias, long rows, long n)
{
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n, *dyr = dy + r * n;
        float *dxr = dx + r * n;
        float mu = mean[r], rs = rstd[r];
        float g_sum = 0.0f, gx_sum = 0.0f;
        for (long i = 0; i < n; i++) {
            float xhat = (xr[i] - mu) * rs;
            float g = weight ? dyr[i] * weight[i] : dyr[i];
            g_sum += g;
            gx_sum += g * xhat;
        }
        float g_mean = g_sum / (float)n, gx_mean = gx_sum / (float)n;
        for (long i = 0; i < n; i++) {
            float d = dyr[i];
            float xhat = (xr[i] - mu) * rs;
            float g = weight ? d * weight[i] : d;
            if (dbias)
                dbias[i] += d;
            if (dweight)
                dweight[i] += d * xhat;
            dxr[i] = (g - g_mean - xhat * gx_mean) * rs;
        }
    }
}

#if defined(__x86_64__)

// ---- AVX2 ----

KB_AVX2 void kb_layernorm_forward_avx2(const float *x, const float *weight, const float *bias, float *y, float *mean,
                                       float *rstd, long rows, long n, float eps)
{
    if (n <= 0)
        return;
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float mu = (float)(v8_sum_double(xr, n) / (double)n);
        __m256 vmu = _mm256_set1_ps(mu);
        __m256 acc = zero;
        for (long i = 0; i < n; i += 8) {
            __m256 d = _mm256_sub_ps(v8_load(xr + i, n - i, vmu), vmu);
            acc = _mm256_fmadd_ps(d, d, acc);
        }
        float rs = 1.0f / sqrtf(v8_hsum(acc) / (float)n + eps);
        __m256 vrs = _mm256_set1_ps(rs);
        for (long i = 0; i < n; i += 8) {
            __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(v8_load(xr + i, n - i, vmu), vmu), vrs);
            __m256 w = weight ? v8_load(weight + i, n - i, one) : one;
            __m256 b = bias ? v8_load(bias + i, n - i, zero) : zero;
            v8_store(yr + i, _mm256_fmadd_ps(xhat, w, b), n - i);
        }
        if (mean)
            mean[r] = mu;
        if (rstd)
            rstd[r] = rs;
    }
}

KB_AVX2 void kb_layernorm_backward_avx2(const float *x, const float *weight, const float *mean, const float *rstd,
                                        const float *dy, float *dx, float *dweight, float *dbias, long rows, long n)
{
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n, *dyr = dy + r * n;
        float *dxr = dx + r * n;
        __m256 mu = _mm256_set1_ps(mean[r]), rs = _mm256_set1_ps(rstd[r]);
        __m256 g_acc = zero, gx_acc = zero;
        for (long i = 0; i < n; i += 8) {
            __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(v8_load(xr + i, n - i, mu), mu), rs);
            __m256 w = weight ? v8_load(weight + i, n - i, one) : one;
            __m256 g = _mm256_mul_ps(v8_load(dyr + i, n - i, zero), w);
            g_acc = _mm256_add_ps(g_acc, g);
            gx_acc = _mm256_fmadd_ps(g, xhat, gx_acc);
        }
        __m256 g_mean = _mm256_set1_ps(v8_hsum(g_acc) / (float)n);
        __m256 gx_mean = _mm256_set1_ps(v8_hsum(gx_acc) / (float)n);
        for (long i = 0; i < n; i += 8) {
            __m256 d = v8_load(dyr + i, n - i, zero);
            __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(v8_load(xr + i, n - i, mu), mu), rs);
            __m256 w = weight ? v8_load(weight + i, n - i, one) : one;
            __m256 g = _mm256_mul_ps(d, w);
            if (dbias)
                v8_store(dbias + i, _mm256_add_ps(v8_load(dbias + i, n - i, zero), d), n - i);
            if (dweight)
                v8_store(dweight + i, _mm256_fmadd_ps(d, xhat, v8_load(dweight + i, n - i, zero)), n - i);
            __m256 v = _mm256_sub_ps(_mm256_sub_ps(g, g_mean), _mm256_mul_ps(xhat, gx_mean));
            v8_store(dxr + i, _mm256_mul_ps(v, rs), n - i);
        }
    }
}

// ---- AVX-512 ----

KB_AVX512 void kb_layernorm_forward_avx512(const float *x, const float *weight, const float *bias, float *y,
                                           float *mean, float *rstd, long rows, long n, float eps)
{
    if (n <= 0)
        return;
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float mu = (float)(v16_sum_double(xr, n) / (double)n);
        __m512 vmu = _mm512_set1_ps(mu);
        __m512 acc = zero;
        for (long i = 0; i < n; i += 16) {
            __m512 d = _mm512_sub_ps(v16_load(xr + i, n - i, vmu), vmu);
            acc = _mm512_fmadd_ps(d, d, acc);
        }
        float rs = 1.0f / sqrtf(_mm512_reduce_add_ps(acc) / (float)n + eps);
        __m512 vrs = _mm512_set1_ps(rs);
        for (long i = 0; i < n; i += 16) {
            __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(v16_load(xr + i, n - i, vmu), vmu), vrs);
            __m512 w = weight ? v16_load(weight + i, n - i, one) : one;
            __m512 b = bias ? v16_load(bias + i, n - i, zero) : zero;
            v16_store(yr + i, _mm512_fmadd_ps(xhat, w, b), n - i);
        }
        if (mean)
            mean[r] = mu;
        if (rstd)
            rstd[r] = rs;
    }
}

KB_AVX512 void kb_layernorm_backward_avx512(const float *x, const float *weight, const float *mean,
                                            const float *rstd, const float *dy, float *dx, float *dweight,
                                            float *dbias, long rows, long n)
{
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    for (long r = 0; r < rows; r++) {
        const float *xr = x + r * n, *dyr = dy + r * n;
        float *dxr = dx + r * n;
        __m512 mu = _mm512_set1_ps(mean[r]), rs = _mm512_set1_ps(rstd[r]);
        __m512 g_acc = zero, gx_acc = zero;
        for (long i = 0; i < n; i += 16) {
            __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(v16_load(xr + i, n - i, mu), mu), rs);
            __m512 w = weight ? v16_load(weight + i, n - i, one) : one;
            __m512 g = _mm512_mul_ps(v16_load(dyr + i, n - i, zero), w);
            g_acc = _mm512_add_ps(g_acc, g);
            gx_acc = _mm512_fmadd_ps(g, xhat, gx_acc);
        }
        __m512 g_mean = _mm512_set1_ps(_mm512_reduce_add_ps(g_acc) / (float)n);
        __m512 gx_mean = _mm512_set1_ps(_mm512_reduce_add_ps(gx_acc) / (float)n);
        for (long i = 0; i < n; i += 16) {
            __m512 d = v16_load(dyr + i, n - i, zero);
            __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(v16_load(xr + i, n - i, mu), mu), rs);
            __m512 w = weight ? v16_load(weight + i, n - i, one) : one;
            __m512 g = _mm512_mul_ps(d, w);
            if (dbias)
                v16_store(dbias + i, _mm512_add_ps(v16_load(dbias + i, n - i, zero), d), n - i);
            if (dweight)
                v16_store(dweight + i, _mm512_fmadd_ps(d, xhat, v16_load(dweight + i, n - i, zero)), n - i);
            __m512 v = _mm512_sub_ps(_mm512_sub_ps(g, g_mean), _mm512_mul_ps(xhat, gx_mean));
            v16_store(dxr + i, _mm512_mul_ps(v, rs), n - i);
        }
    }
}

#endif

// ---- dispatch ----

void kb_layernorm_forward(const float *x, const float *weight, const float *bias, float *y, float *mean, float *rstd,
                          long rows, long n, float eps)
{
    switch (kb_active_path()) {
#if defined(__x86_64__)
    case KB_PATH_AVX512: kb_layernorm_forward_avx512(x, weight, bias, y, mean, rstd, rows, n, eps); break;
    case KB_PATH_AVX2: kb_layernorm_forward_avx2(x, weight, bias, y, mean, rstd, rows, n, eps); break;
#endif
    default: kb_layernorm_forward_scalar(x, weight, bias, y, mean, rstd, rows, n, eps); break;
    }
}

void kb_layernorm_backward(const float *x, const float *weight, const float *mean, const float *rstd, const float *dy,
                           float *dx, float *dweight, float *dbias, long rows, long n)
{
    switch (kb_active_path()) {
#if defined(__x86_64__)
    case KB_PATH_AVX512:
        kb_layernorm_backward_avx512(x, weight, mean, rstd, dy, dx, dweight, dbias, rows, n);
        break;
    case KB_PATH_AVX2: kb_layernorm_backward_avx2(x, weight, mean, rstd, dy, dx, dweight, dbias, rows, n); break;
#endif
    default: kb_layernorm_backward_scalar(x, weight, mean, rstd, dy, dx, dweight, dbias, rows, n); break;
    }
}
