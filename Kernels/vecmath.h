#ifndef KIBAN_VECMATH_H
#define KIBAN_VECMATH_H

// Internal AVX2 (v8_*) and AVX-512 (v16_*) helpers, x86-64 only: tail-safe loads/stores, horizontal reductions, exp, erfc.
// Loads take the number of remaining elements `rem`; lanes at or past `rem` are not read and hold `fill`.

#include <math.h>

#if defined(__x86_64__)

#include <immintrin.h>

#define KB_AVX2 __attribute__((target("avx2,fma")))
#define KB_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

#define KB_COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

// exp: x = n ln2 + r, |r| <= ln2/2, e^r = 1 + r + r^2 P(r) (Cephes expf), 2^n built in the exponent bits.
// Inputs are clamped to [-88, 88]; below -87.7 the scale 2^n is 0, so exp returns exactly 0 there and at -inf.
#define KB_EXP_MIN (-88.0f)
#define KB_EXP_MAX 88.0f
#define KB_LOG2E 1.44269504088896341f
#define KB_LN2_HI 0.693359375f
#define KB_LN2_LO (-2.12194440e-4f)
static const float kb_exp_poly[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                    4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};

// erfc: |z| < 0.5: 1 - z P(z^2) (P ~ erf(z)/z); otherwise a = min(|z|, 10), t = 1 / (1 + a/2),
// erfc(a) = exp(-a^2) G(t) (G ~ erfc(a) exp(a^2)), and erfc(z) = 2 - erfc(a) for z < 0. a^2 = hi + lo exactly
// (lo by FMA) and exp(-a^2) = exp(-hi) (1 - lo). P and G are relative-minimax fits (errors 1.4e-9 on [0, 0.5] and
// 1.3e-9 on [0.5, 10]); erfc(10) is 0 in float.
#define KB_ERFC_SMALL 0.5f
#define KB_ERFC_CLAMP 10.0f
static const float kb_erf_poly[] = {4.71803406e-3f, -2.67572086e-2f, 1.12828232e-1f, -3.76126081e-1f, 1.12837911f};
static const float kb_erfc_poly[] = {-7.46311396e-2f, 3.52180094e-1f, -6.12726152e-1f, 4.08278465e-1f,
                                     -1.09427638e-1f, 2.3601453e-1f,  2.34648436e-1f,  2.83674389e-1f,
                                     2.81977057e-1f,  3.83702991e-6f};

// ---- AVX2 ----

/// Mask of the first `rem` lanes, 0 < rem < 8.
static inline KB_AVX2 __m256i v8_tail_mask(long rem)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)rem), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline KB_AVX2 __m256 v8_load(const float *p, long rem, __m256 fill)
{
    if (rem >= 8)
        return _mm256_loadu_ps(p);
    __m256i mask = v8_tail_mask(rem);
    return _mm256_blendv_ps(fill, _mm256_maskload_ps(p, mask), _mm256_castsi256_ps(mask));
}

static inline KB_AVX2 void v8_store(float *p, __m256 v, long rem)
{
    if (rem >= 8)
        _mm256_storeu_ps(p, v);
    else
        _mm256_maskstore_ps(p, v8_tail_mask(rem), v);
}

static inline KB_AVX2 float v8_hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline KB_AVX2 double v4d_hsum(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/// Sum of x: (n) in double; element j of each 8-element block goes to double lane j, lanes reduced in a fixed tree.
static inline KB_AVX2 double v8_sum_double(const float *x, long n)
{
    __m256d lo = _mm256_setzero_pd(), hi = lo;
    for (long i = 0; i < n; i += 8) {
        __m256 v = v8_load(x + i, n - i, _mm256_setzero_ps());
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    return v4d_hsum(_mm256_add_pd(lo, hi));
}

/// Lane maximum; the lanes must not be NaN (the row kernels keep their max accumulators NaN-free).
static inline KB_AVX2 float v8_hmax(__m256 v)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// c[0] x^(count-1) + ... + c[count-1] by Horner's rule.
static inline KB_AVX2 __m256 v8_horner(__m256 x, const float *c, int count)
{
    __m256 p = _mm256_set1_ps(c[0]);
    for (int k = 1; k < count; k++)
        p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(c[k]));
    return p;
}

/// e^x for x <= 88 (callers pass x <= 0); exactly 0 for x <= -88 and -inf; NaN propagates.
static inline KB_AVX2 __m256 v8_exp(__m256 x)
{
    x = _mm256_min_ps(_mm256_set1_ps(KB_EXP_MAX), _mm256_max_ps(_mm256_set1_ps(KB_EXP_MIN), x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(KB_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(KB_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(KB_LN2_LO), r);
    __m256 p = v8_horner(r, kb_exp_poly, KB_COUNT(kb_exp_poly));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

/// erfc(z) with a few ulps relative error; erfc(+inf) = 0, erfc(-inf) = 2; NaN propagates.
static inline KB_AVX2 __m256 v8_erfc(__m256 z)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z);
    __m256 small = _mm256_fnmadd_ps(z, v8_horner(_mm256_mul_ps(z, z), kb_erf_poly, KB_COUNT(kb_erf_poly)), one);
    __m256 ac = _mm256_min_ps(_mm256_set1_ps(KB_ERFC_CLAMP), a);
    __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(ac, _mm256_set1_ps(0.5f), one));
    __m256 g = v8_horner(t, kb_erfc_poly, KB_COUNT(kb_erfc_poly));
    __m256 hi = _mm256_mul_ps(ac, ac), lo = _mm256_fmsub_ps(ac, ac, hi);
    __m256 erfc_a = _mm256_mul_ps(v8_exp(_mm256_sub_ps(_mm256_setzero_ps(), hi)), g);
    erfc_a = _mm256_fnmadd_ps(erfc_a, lo, erfc_a);
    __m256 negative = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 large = _mm256_blendv_ps(erfc_a, _mm256_sub_ps(_mm256_set1_ps(2.0f), erfc_a), negative);
    return _mm256_blendv_ps(large, small, _mm256_cmp_ps(a, _mm256_set1_ps(KB_ERFC_SMALL), _CMP_LT_OQ));
}

// ---- AVX-512 ----

/// Mask of the first `rem` lanes, 0 < rem < 16.
static inline KB_AVX512 __mmask16 v16_tail_mask(long rem)
{
    return (__mmask16)((1u << rem) - 1u);
}

static inline KB_AVX512 __m512 v16_load(const float *p, long rem, __m512 fill)
{
    if (rem >= 16)
        return _mm512_loadu_ps(p);
    return _mm512_mask_loadu_ps(fill, v16_tail_mask(rem), p);
}

static inline KB_AVX512 void v16_store(float *p, __m512 v, long rem)
{
    if (rem >= 16)
        _mm512_storeu_ps(p, v);
    else
        _mm512_mask_storeu_ps(p, v16_tail_mask(rem), v);
}

/// Sum of x: (n) in double; element j of each 16-element block goes to double lane j, lanes reduced in a fixed tree.
static inline KB_AVX512 double v16_sum_double(const float *x, long n)
{
    __m512d lo = _mm512_setzero_pd(), hi = lo;
    for (long i = 0; i < n; i += 16) {
        __m512 v = v16_load(x + i, n - i, _mm512_setzero_ps());
        lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
        hi = _mm512_add_pd(hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1)));
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
}

/// c[0] x^(count-1) + ... + c[count-1] by Horner's rule.
static inline KB_AVX512 __m512 v16_horner(__m512 x, const float *c, int count)
{
    __m512 p = _mm512_set1_ps(c[0]);
    for (int k = 1; k < count; k++)
        p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(c[k]));
    return p;
}

/// e^x for x <= 88 (callers pass x <= 0); exactly 0 for x <= -88 and -inf; NaN propagates.
static inline KB_AVX512 __m512 v16_exp(__m512 x)
{
    x = _mm512_min_ps(_mm512_set1_ps(KB_EXP_MAX), _mm512_max_ps(_mm512_set1_ps(KB_EXP_MIN), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(KB_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(KB_LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(KB_LN2_LO), r);
    __m512 p = v16_horner(r, kb_exp_poly, KB_COUNT(kb_exp_poly));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

/// erfc(z) with a few ulps relative error; erfc(+inf) = 0, erfc(-inf) = 2; NaN propagates.
static inline KB_AVX512 __m512 v16_erfc(__m512 z)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 a = _mm512_abs_ps(z);
    __m512 small = _mm512_fnmadd_ps(z, v16_horner(_mm512_mul_ps(z, z), kb_erf_poly, KB_COUNT(kb_erf_poly)), one);
    __m512 ac = _mm512_min_ps(_mm512_set1_ps(KB_ERFC_CLAMP), a);
    __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(ac, _mm512_set1_ps(0.5f), one));
    __m512 g = v16_horner(t, kb_erfc_poly, KB_COUNT(kb_erfc_poly));
    __m512 hi = _mm512_mul_ps(ac, ac), lo = _mm512_fmsub_ps(ac, ac, hi);
    __m512 erfc_a = _mm512_mul_ps(v16_exp(_mm512_sub_ps(_mm512_setzero_ps(), hi)), g);
    erfc_a = _mm512_fnmadd_ps(erfc_a, lo, erfc_a);
    __mmask16 negative = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 large = _mm512_mask_sub_ps(erfc_a, negative, _mm512_set1_ps(2.0f), erfc_a);
    __mmask16 is_small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(KB_ERFC_SMALL), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(is_small, large, small);
}

#endif

#endif
