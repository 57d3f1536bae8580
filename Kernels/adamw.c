// AdamW update (PyTorch semantics, decoupled weight decay). The vector paths use the scalar reference's operation
// order with separate multiplies and adds (no FMA), so they round the same way as the reference.

#include "kiban_kernels.h"
#include "vecmath.h"

// GCC fuses a*b + c into an FMA by default (-ffp-contract=fast), even across intrinsics; clang does not.
#if defined(__GNUC__) && !defined(__clang__)
#define KB_NO_FP_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define KB_NO_FP_CONTRACT
#endif

// ---- scalar reference ----

void kb_adamw_update_scalar(float *param, const float *grad, float *m, float *v, long n, float lr, float beta1,
                            float beta2, float eps, float weight_decay, float bias_correction1, float bias_correction2)
{
    const float decay = 1.0f - lr * weight_decay;
    const float one_minus_beta1 = 1.0f - beta1, one_minus_beta2 = 1.0f - beta2;
    for (long i = 0; i < n; i++) {
        float g = grad[i];
        float mi = beta1 * m[i] + one_minus_beta1 * g;
        float vi = beta2 * v[i] + one_minus_beta2 * g * g;
        m[i] = mi;
        v[i] = vi;
        float m_hat = mi / bias_correction1;
        float v_hat = vi / bias_correction2;
        param[i] = param[i] * decay - lr * m_hat / (sqrtf(v_hat) + eps);
    }
}

#if defined(__x86_64__)

// ---- AVX2 ----

KB_AVX2 KB_NO_FP_CONTRACT void kb_adamw_update_avx2(float *param, const float *grad, float *m, float *v, long n,
                                                    float lr, float beta1, float beta2, float eps, float weight_decay,
                                                    float bias_correction1, float bias_correction2)
{
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    const __m256 decay = _mm256_set1_ps(1.0f - lr * weight_decay);
    const __m256 b1 = _mm256_set1_ps(beta1), b2 = _mm256_set1_ps(beta2);
    const __m256 c1 = _mm256_set1_ps(1.0f - beta1), c2 = _mm256_set1_ps(1.0f - beta2);
    const __m256 vlr = _mm256_set1_ps(lr), veps = _mm256_set1_ps(eps);
    const __m256 bc1 = _mm256_set1_ps(bias_correction1), bc2 = _mm256_set1_ps(bias_correction2);
    for (long i = 0; i < n; i += 8) {
        long rem = n - i;
        __m256 g = v8_load(grad + i, rem, zero);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, v8_load(m + i, rem, zero)), _mm256_mul_ps(c1, g));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, v8_load(v + i, rem, zero)),
                                  _mm256_mul_ps(_mm256_mul_ps(c2, g), g));
        v8_store(m + i, mi, rem);
        v8_store(v + i, vi, rem);
        __m256 m_hat = _mm256_div_ps(mi, bc1);
        __m256 denom = _mm256_add_ps(_mm256_sqrt_ps(_mm256_div_ps(vi, bc2)), veps);
        __m256 step = _mm256_div_ps(_mm256_mul_ps(vlr, m_hat), denom);
        __m256 p = _mm256_mul_ps(v8_load(param + i, rem, one), decay);
        v8_store(param + i, _mm256_sub_ps(p, step), rem);
    }
}

// ---- AVX-512 ----

KB_AVX512 KB_NO_FP_CONTRACT void kb_adamw_update_avx512(float *param, const float *grad, float *m, float *v, long n,
                                                        float lr, float beta1, float beta2, float eps,
                                                        float weight_decay, float bias_correction1,
                                                        float bias_correction2)
{
    const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f);
    const __m512 decay = _mm512_set1_ps(1.0f - lr * weight_decay);
    const __m512 b1 = _mm512_set1_ps(beta1), b2 = _mm512_set1_ps(beta2);
    const __m512 c1 = _mm512_set1_ps(1.0f - beta1), c2 = _mm512_set1_ps(1.0f - beta2);
    const __m512 vlr = _mm512_set1_ps(lr), veps = _mm512_set1_ps(eps);
    const __m512 bc1 = _mm512_set1_ps(bias_correction1), bc2 = _mm512_set1_ps(bias_correction2);
    for (long i = 0; i < n; i += 16) {
        long rem = n - i;
        __m512 g = v16_load(grad + i, rem, zero);
        __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, v16_load(m + i, rem, zero)), _mm512_mul_ps(c1, g));
        __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, v16_load(v + i, rem, zero)),
                                  _mm512_mul_ps(_mm512_mul_ps(c2, g), g));
        v16_store(m + i, mi, rem);
        v16_store(v + i, vi, rem);
        __m512 m_hat = _mm512_div_ps(mi, bc1);
        __m512 denom = _mm512_add_ps(_mm512_sqrt_ps(_mm512_div_ps(vi, bc2)), veps);
        __m512 step = _mm512_div_ps(_mm512_mul_ps(vlr, m_hat), denom);
        __m512 p = _mm512_mul_ps(v16_load(param + i, rem, one), decay);
        v16_store(param + i, _mm512_sub_ps(p, step), rem);
    }
}

#endif

// ---- dispatch ----

void kb_adamw_update(float *param, const float *grad, float *m, float *v, long n, float lr, float beta1, float beta2,
                     float eps, float weight_decay, float bias_correction1, float bias_correction2)
{
    switch (kb_active_path()) {
#if defined(__x86_64__)
    case KB_PATH_AVX512:
        kb_adamw_update_avx512(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, bias_correction1,
                               bias_correction2);
        break;
    case KB_PATH_AVX2:
        kb_adamw_update_avx2(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, bias_correction1,
                             bias_correction2);
        break;
#endif
    default:
        kb_adamw_update_scalar(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, bias_correction1,
                               bias_correction2);
        break;
    }
}
