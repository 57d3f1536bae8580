// Sum and sum of squares of float32 vectors, accumulated in double in a fixed order.
//
// Scalar: one accumulator, index order. Vector paths: the array is cut into blocks of 16 (AVX2) or 32 (AVX-512)
// elements; element j of every full block is converted to double and added to double lane j (four vectors of
// 4 or 8 lanes); the vectors are combined as (a0 + a1) + (a2 + a3), the lanes reduced in a fixed tree, and the
// remaining n mod 16 (32) elements added in index order. Squares are exact in double, so FMA changes nothing.

#include "kiban_kernels.h"
#include "vecmath.h"

// ---- scalar reference ----

double kb_sum_scalar(const float *x, long n)
{
    double s = 0.0;
    for (long i = 0; i < n; i++)
        s += (double)x[i];
    return s;
}

double kb_sum_squares_scalar(const float *x, long n)
{
    double s = 0.0;
    for (long i = 0; i < n; i++)
        s += (double)x[i] * (double)x[i];
    return s;
}

#if defined(__x86_64__)

// ---- AVX2 ----

KB_AVX2 double kb_sum_avx2(const float *x, long n)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 lo = _mm256_loadu_ps(x + i), hi = _mm256_loadu_ps(x + i + 8);
        a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(lo)));
        a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(lo, 1)));
        a2 = _mm256_add_pd(a2, _mm256_cvtps_pd(_mm256_castps256_ps128(hi)));
        a3 = _mm256_add_pd(a3, _mm256_cvtps_pd(_mm256_extractf128_ps(hi, 1)));
    }
    double s = v4d_hsum(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));
    for (; i < n; i++)
        s += (double)x[i];
    return s;
}

KB_AVX2 double kb_sum_squares_avx2(const float *x, long n)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 lo = _mm256_loadu_ps(x + i), hi = _mm256_loadu_ps(x + i + 8);
        __m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(lo)), d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(lo, 1));
        __m256d d2 = _mm256_cvtps_pd(_mm256_castps256_ps128(hi)), d3 = _mm256_cvtps_pd(_mm256_extractf128_ps(hi, 1));
        a0 = _mm256_fmadd_pd(d0, d0, a0);
        a1 = _mm256_fmadd_pd(d1, d1, a1);
        a2 = _mm256_fmadd_pd(d2, d2, a2);
        a3 = _mm256_fmadd_pd(d3, d3, a3);
    }
    double s = v4d_hsum(_mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3)));
    for (; i < n; i++)
        s += (double)x[i] * (double)x[i];
    return s;
}

// ---- AVX-512 ----

KB_AVX512 double kb_sum_avx512(const float *x, long n)
{
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 lo = _mm512_loadu_ps(x + i), hi = _mm512_loadu_ps(x + i + 16);
        a0 = _mm512_add_pd(a0, _mm512_cvtps_pd(_mm512_castps512_ps256(lo)));
        a1 = _mm512_add_pd(a1, _mm512_cvtps_pd(_mm512_extractf32x8_ps(lo, 1)));
        a2 = _mm512_add_pd(a2, _mm512_cvtps_pd(_mm512_castps512_ps256(hi)));
        a3 = _mm512_add_pd(a3, _mm512_cvtps_pd(_mm512_extractf32x8_ps(hi, 1)));
    }
    double s = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)));
    for (; i < n; i++)
        s += (double)x[i];
    return s;
}

KB_AVX512 double kb_sum_squares_avx512(const float *x, long n)
{
    __m512d a0 = _mm512_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 lo = _mm512_loadu_ps(x + i), hi = _mm512_loadu_ps(x + i + 16);
        __m512d d0 = _mm512_cvtps_pd(_mm512_castps512_ps256(lo)), d1 = _mm512_cvtps_pd(_mm512_extractf32x8_ps(lo, 1));
        __m512d d2 = _mm512_cvtps_pd(_mm512_castps512_ps256(hi)), d3 = _mm512_cvtps_pd(_mm512_extractf32x8_ps(hi, 1));
        a0 = _mm512_fmadd_pd(d0, d0, a0);
        a1 = _mm512_fmadd_pd(d1, d1, a1);
        a2 = _mm512_fmadd_pd(d2, d2, a2);
        a3 = _mm512_fmadd_pd(d3, d3, a3);
    }
    double s = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(a0, a1), _mm512_add_pd(a2, a3)));
    for (; i < n; i++)
        s += (double)x[i] * (double)x[i];
    return s;
}

#endif

// ---- dispatch ----

double kb_sum(const float *x, long n)
{
    switch (kb_active_path()) {
#if defined(__x86_64__)
    case KB_PATH_AVX512: return kb_sum_avx512(x, n);
    case KB_PATH_AVX2: return kb_sum_avx2(x, n);
#endif
    default: return kb_sum_scalar(x, n);
    }
}

double kb_sum_squares(const float *x, long n)
{
    switch (kb_active_path()) {
#if defined(__x86_64__)
    case KB_PATH_AVX512: return kb_sum_squares_avx512(x, n);
    case KB_PATH_AVX2: return kb_sum_squares_avx2(x, n);
#endif
    default: return kb_sum_squares_scalar(x, n);
    }
}
