// GELU, tanh approximation and exact (erf) forms, forward and backward.
//
// To avoid cancellation for negative x, every path evaluates the same algebraically equal forms:
//   0.5 (1 + tanh(u)) = s = (u >= 0 ? 1 : e) / (1 + e) and 1 - tanh(u)^2 = 4 e / (1 + e)^2, with e = exp(-2|u|);
//   0.5 (1 + erf(x / sqrt2)) = 0.5 erfc(-x / sqrt2).
// Forward: gelu(-inf) is its limit 0 (the formula would give -inf * 0). Backward: x is first clamped to [-20, 20];
// beyond |x| = 20 both derivatives are exactly 0 or 1 in float, so the clamp changes no finite result, and it keeps
// +-inf and huge |x| (x^2 = inf) from producing inf * 0.

#include "kiban_kernels.h"
#include "vecmath.h"

#define KB_SQRT_2_OVER_PI 0.797884560802865355f
#define KB_GELU_C 0.044715f
#define KB_INV_SQRT2 0.707106781186547524f
#define KB_INV_SQRT_2PI 0.398942280401432678f
#define KB_GELU_CLAMP 20.0f

// ---- scalar reference ----

/// Clamps to [-KB_GELU_CLAMP, KB_GELU_CLAMP]; NaN passes through.
static float gelu_clamp(float x)
{
    if (x > KB_GELU_CLAMP)
        return KB_GELU_CLAMP;
    if (x < -KB_GELU_CLAMP)
        return -KB_GELU_CLAMP;
    return x;
}

/// The tanh argument u = sqrt(2/pi) (x + 0.044715 x^3).
static float gelu_tanh_arg(float x)
{
    return KB_SQRT_2_OVER_PI * (x + KB_GELU_C * x * x * x);
}

void kb_gelu_tanh_forward_scalar(const float *x, float *y, long n)
{
    for (long i = 0; i < n; i++) {
        float v = x[i];
        float u = gelu_tanh_arg(v);
        float e = expf(-2.0f * fabsf(u));
        float s = (u >= 0.0f ? 1.0f : e) / (1.0f + e);
        y[i] = v == -INFINITY ? 0.0f : v * s;
    }
}

void kb_gelu_tanh_backward_scalar(const float *x, const float *dy, float *dx, long n)
{
    for (long i = 0; i < n; i++) {
        float c = gelu_clamp(x[i]);
        float u = gelu_tanh_arg(c);
        float e = expf(-2.0f * fabsf(u));
        float s = (u >= 0.0f ? 1.0f : e) / (1.0f + e);
        float sech2 = 4.0f * e / ((1.0f + e) * (1.0f + e));
        float du = KB_SQRT_2_OVER_PI * (1.0f + 3.0f * KB_GELU_C * c * c);
        dx[i] = dy[i] * (s + 0.5f * c * sech2 * du);
    }
}

void kb_gelu_erf_forward_scalar(const float *x, float *y, long n)
{
    for (long i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v == -INFINITY ? 0.0f : 0.5f * v * erfcf(-v * KB_INV_SQRT2);
    }
}

void kb_gelu_erf_backward_scalar(const float *x, const float *dy, float *dx, long n)
{
    for (long i = 0; i < n; i++) {
        float c = gelu_clamp(x[i]);
        float cdf = 0.5f * erfcf(-c * KB_INV_SQRT2);
        float pdf = KB_INV_SQRT_2PI * expf(-0.5f * c * c);
        dx[i] = dy[i] * (cdf + c * pdf);
    }
}

#if defined(__x86_64__)

// ---- AVX2 ----

/// Clamps to [-KB_GELU_CLAMP, KB_GELU_CLAMP]; NaN passes through (max/min return their second operand on NaN).
static inline KB_AVX2 __m256 v8_gelu_clamp(__m256 x)
{
    x = _mm256_max_ps(_mm256_set1_ps(-KB_GELU_CLAMP), x);
    return _mm256_min_ps(_mm256_set1_ps(KB_GELU_CLAMP), x);
}

static inline KB_AVX2 __m256 v8_gelu_tanh_arg(__m256 x)
{
    __m256 cube = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(KB_GELU_C), x), x), x);
    return _mm256_mul_ps(_mm256_set1_ps(KB_SQRT_2_OVER_PI), _mm256_add_ps(x, cube));
}

/// exp(-2|u|).
static inline KB_AVX2 __m256 v8_exp_neg2abs(__m256 u)
{
    return v8_exp(_mm256_mul_ps(_mm256_set1_ps(-2.0f), _mm256_andnot_ps(_mm256_set1_ps(-0.0f), u)));
}

/// 0.5 (1 + tanh(u)) from e = exp(-2|u|).
static inline KB_AVX2 __m256 v8_half_one_plus_tanh(__m256 u, __m256 e)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 num = _mm256_blendv_ps(e, one, _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_GE_OQ));
    return _mm256_div_ps(num, _mm256_add_ps(one, e));
}

KB_AVX2 void kb_gelu_tanh_forward_avx2(const float *x, float *y, long n)
{
    const __m256 zero = _mm256_setzero_ps(), neg_inf = _mm256_set1_ps(-INFINITY);
    for (long i = 0; i < n; i += 8) {
        __m256 v = v8_load(x + i, n - i, zero);
        __m256 u = v8_gelu_tanh_arg(v);
        __m256 g = _mm256_mul_ps(v, v8_half_one_plus_tanh(u, v8_exp_neg2abs(u)));
        v8_store(y + i, _mm256_blendv_ps(g, zero, _mm256_cmp_ps(v, neg_inf, _CMP_EQ_OQ)), n - i);
    }
}

KB_AVX2 void kb_gelu_tanh_backward_avx2(const float *x, const float *dy, float *dx, long n)
{
    const __m256 zero = _mm256_setzero_ps(), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 four = _mm256_set1_ps(4.0f), k0 = _mm256_set1_ps(KB_SQRT_2_OVER_PI);
    const __m256 k3 = _mm256_set1_ps(3.0f * KB_GELU_C);
    for (long i = 0; i < n; i += 8) {
        __m256 c = v8_gelu_clamp(v8_load(x + i, n - i, zero));
        __m256 u = v8_gelu_tanh_arg(c);
        __m256 e = v8_exp_neg2abs(u);
        __m256 s = v8_half_one_plus_tanh(u, e);
        __m256 ope = _mm256_add_ps(one, e);
        __m256 sech2 = _mm256_div_ps(_mm256_mul_ps(four, e), _mm256_mul_ps(ope, ope));
        __m256 du = _mm256_mul_ps(k0, _mm256_add_ps(one, _mm256_mul_ps(_mm256_mul_ps(k3, c), c)));
        __m256 grad = _mm256_add_ps(s, _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(half, c), sech2), du));
        v8_store(dx + i, _mm256_mul_ps(v8_load(dy + i, n - i, zero), grad), n - i);
    }
}

KB_AVX2 void kb_gelu_erf_forward_avx2(const float *x, float *y, long n)
{
    const __m256 zero = _mm256_setzero_ps(), half = _mm256_set1_ps(0.5f), neg_inf = _mm256_set1_ps(-INFINITY);
    const __m256 neg_inv_sqrt2 = _mm256_set1_ps(-KB_INV_SQRT2);
    for (long i = 0; i < n; i += 8) {
        __m256 v = v8_load(x + i, n - i, zero);
        __m256 g = _mm256_mul_ps(_mm256_mul_ps(half, v), v8_erfc(_mm256_mul_ps(v, neg_inv_sqrt2)));
        v8_store(y + i, _mm256_blendv_ps(g, zero, _mm256_cmp_ps(v, neg_inf, _CMP_EQ_OQ)), n - i);
    }
}

KB_AVX2 void kb_gelu_erf_backward_avx2(const float *x, const float *dy, float *dx, long n)
{
    const __m256 zero = _mm256_setzero_ps(), half = _mm256_set1_ps(0.5f), neg_half = _mm256_set1_ps(-0.5f);
    const __m256 neg_inv_sqrt2 = _mm256_set1_ps(-KB_INV_SQRT2), inv_sqrt_2pi = _mm256_set1_ps(KB_INV_SQRT_2PI);
    for (long i = 0; i < n; i += 8) {
        __m256 c = v8_gelu_clamp(v8_load(x + i, n - i, zero));
        __m256 cdf = _mm256_mul_ps(half, v8_erfc(_mm256_mul_ps(c, neg_inv_sqrt2)));
        __m256 pdf = _mm256_mul_ps(inv_sqrt_2pi, v8_exp(_mm256_mul_ps(_mm256_mul_ps(neg_half, c), c)));
        __m256 grad = _mm256_add_ps(cdf, _mm256_mul_ps(c, pdf));
        v8_store(dx + i, _mm256_mul_ps(v8_load(dy + i, n - i, zero), grad), n - i);
    }
}

// ---- AVX-512 ----

/// Clamps to [-KB_GELU_CLAMP, KB_GELU_CLAMP]; NaN passes through (max/min return their second operand on NaN).
static inline KB_AVX512 __m512 v16_gelu_clamp(__m512 x)
{
    x = _mm512_max_ps(_mm512_set1_ps(-KB_GELU_CLAMP), x);
    return _mm512_min_ps(_mm512_set1_ps(KB_GELU_CLAMP), x);
}

static inline KB_AVX512 __m512 v16_gelu_tanh_arg(__m512 x)
{
    __m512 cube = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(KB_GELU_C), x), x), x);
    return _mm512_mul_ps(_mm512_set1_ps(KB_SQRT_2_OVER_PI), _mm512_add_ps(x, cube));
}

/// exp(-2|u|).
static inline KB_AVX512 __m512 v16_exp_neg2abs(__m512 u)
{
    return v16_exp(_mm512_mul_ps(_mm512_set1_ps(-2.0f), _mm512_abs_ps(u)));
}

/// 0.5 (1 + tanh(u)) from e = exp(-2|u|).
static inline KB_AVX512 __m512 v16_half_one_plus_tanh(__m512 u, __m512 e)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 num = _mm512_mask_mov_ps(e, _mm512_cmp_ps_mask(u, _mm512_setzero_ps(), _CMP_GE_OQ), one);
    return _mm512_div_ps(num, _mm512_add_ps(one, e));
}

KB_AVX512 void kb_gelu_tanh_forward_avx512(const float *x, float *y, long n)
{
    const __m512 zero = _mm512_setzero_ps(), neg_inf = _mm512_set1_ps(-INFINITY);
    for (long i = 0; i < n; i += 16) {
        __m512 v = v16_load(x + i, n - i, zero);
        __m512 u = v16_gelu_tanh_arg(v);
        __m512 g = _mm512_mul_ps(v, v16_half_one_plus_tanh(u, v16_exp_neg2abs(u)));
        __mmask16 is_neg_inf = _mm512_cmp_ps_mask(v, neg_inf, _CMP_EQ_OQ);
        v16_store(y + i, _mm512_mask_mov_ps(g, is_neg_inf, zero), n - i);
    }
}

KB_AVX512 void kb_gelu_tanh_backward_avx512(const float *x, const float *dy, float *dx, long n)
{
    const __m512 zero = _mm512_setzero_ps(), half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f);
    const __m512 four = _mm512_set1_ps(4.0f), k0 = _mm512_set1_ps(KB_SQRT_2_OVER_PI);
    const __m512 k3 = _mm512_set1_ps(3.0f * KB_GELU_C);
    for (long i = 0; i < n; i += 16) {
        __m512 c = v16_gelu_clamp(v16_load(x + i, n - i, zero));
        __m512 u = v16_gelu_tanh_arg(c);
        __m512 e = v16_exp_neg2abs(u);
        __m512 s = v16_half_one_plus_tanh(u, e);
        __m512 ope = _mm512_add_ps(one, e);
        __m512 sech2 = _mm512_div_ps(_mm512_mul_ps(four, e), _mm512_mul_ps(ope, ope));
        __m512 du = _mm512_mul_ps(k0, _mm512_add_ps(one, _mm512_mul_ps(_mm512_mul_ps(k3, c), c)));
        __m512 grad = _mm512_add_ps(s, _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(half, c), sech2), du));
        v16_store(dx + i, _mm512_mul_ps(v16_load(dy + i, n - i, zero), grad), n - i);
    }
}

KB_AVX512 void kb_gelu_erf_forward_avx512(const float *x, float *y, long n)
{
    const __m512 zero = _mm512_setzero_ps(), half = _mm512_set1_ps(0.5f), neg_inf = _mm512_set1_ps(-INFINITY);
    const __m512 neg_inv_sqrt2 = _mm512_set1_ps(-KB_INV_SQRT2);
    for (long i = 0; i < n; i += 16) {
        __m512 v = v16_load(x + i, n - i, zero);
        __m512 g = _mm512_mul_ps(_mm512_mul_ps(half, v), v16_erfc(_mm512_mul_ps(v, neg_inv_sqrt2)));
        __mmask16 is_neg_inf = _mm512_cmp_ps_mask(v, neg_inf, _CMP_EQ_OQ);
        v16_store(y + i, _mm512_mask_mov_ps(g, is_neg_inf, zero), n - i);
    }
}

KB_AVX512 void kb_gelu_erf_backward_avx512(const float *x, const float *dy, float *dx, long n)
{
    const __m512 zero = _mm512_setzero_ps(), half = _mm512_set1_ps(0.5f), neg_half = _mm512_set1_ps(-0.5f);
    const __m512 neg_inv_sqrt2 = _mm512_set1_ps(-KB_INV_SQRT2), inv_sqrt_2pi = _mm512_set1_ps(KB_INV_SQRT_2PI);
    for (long i = 0; i < n; i += 16) {
        __m512 c = v16_gelu_clamp(v16_load(x + i, n - i, zero));
        __m512 cdf = _mm512_mul_ps(half, v16_erfc(_mm512_mul_ps(c, neg_inv_sqrt2)));
        __m512 pdf = _mm512_mul_ps(inv_sqrt_2pi, v16_exp(_mm512_mul_ps(_mm512_mul_ps(neg_half, c), c)));
        __m512 grad = _mm512_add_ps(cdf, _mm512_mul_ps(c, pdf));
        v16_store(dx + i, _mm512_mul_ps(v16_load(dy + i, n - i, zero), grad), n - i);
    }
}

#endif

// ---- dispatch ----

void kb_gelu_tanh_forward(const float *x, float *y, long n)
{
    switch (kb_active_path()) {
#if defined(__x86_64__)
    case KB_PATH_AVX512: kb_gelu_tanh_forward_avx512(x, y, n); break;
    case KB_PATH_AVX2: kb_gelu_tanh_forward_avx2(x, y, n); break;
#endif
    default: kb_gelu_tanh_forward_scalar(x, y, n); break;
    }
}

void kb_gelu_tanh_backward(const float *x, const float *dy, float *dx, long n)
{
    switch (kb_active_path()) {
#if defined(__x86_64__)
    case KB_PATH_AVX512: kb_gelu_tanh_backward_avx512(x, dy, dx, n); break;
    case KB_PATH_AVX2: kb_gelu_tanh_backward_avx2(x, dy, dx, n); break;
#endif
    default: kb_gelu_tanh_backward_scalar(x, dy, dx, n); break;
    }
}

void kb_gelu_erf_forward(const float *x, float *y, long n)
{
    switch (kb_active_path()) {
#if defined(__x86_64__)
    case KB_PATH_AVX512: kb_gelu_erf_forward_avx512(x, y, n); break;
    case KB_PATH_AVX2: kb_gelu_erf_forward_avx2(x, y, n); break;
#endif
    default: kb_gelu_erf_forward_scalar(x, y, n); break;
    }
}

void kb_gelu_erf_backward(const float *x, const float *dy, float *dx, long n)
{
    switch (kb_active_path()) {
#if defined(__x86_64__)
    case KB_PATH_AVX512: kb_gelu_erf_backward_avx512(x, dy, dx, n); break;
    case KB_PATH_AVX2: kb_gelu_erf_backward_avx2(x, dy, dx, n); break;
#endif
    default: kb_gelu_erf_backward_scalar(x, dy, dx, n); break;
    }
}
