#ifndef KIBAN_BF16_H
#define KIBAN_BF16_H

#include "kiban_kernels.h"

// ---- bf16 GEMM: float32 in and out, bf16 products, float32 accumulation ----
//
// Legend: as kb_sgemm (kiban_kernels.h): C = α·op(A)·op(B) + β·C on row-major matrices, op(A): (m, k), op(B): (k, n),
// C: (m, n); trans_a = 0 reads A as (m, k) with row stride lda ≥ k, trans_a = 1 reads A stored (k, m) (lda ≥ m) as its
// transpose; likewise trans_b, ldb; ldc ≥ n; when β = 0, C is not read.
//
// Rounding: every element of op(A) and op(B) is rounded to bf16 (8 significant bits) to nearest, ties to even, as
// VCVTNEPS2BF16 does: float32 subnormals become zero of the same sign, NaN stays NaN (quieted), ±inf stays ±inf,
// and values past the largest bf16 become ±inf.
//
// Summation order (both paths, every m and n, so a row's result does not depend on the rows computed with it): k is
// cut into consecutive blocks of kb_sgemm_bf16_block_length(k) (the last may be shorter). Within a block,
// s starts at +0 and takes the pairs p = 2t, 2t + 1 in increasing t (for odd k the last pair's second element is a
// zero of A and of B). Each pair does what one lane of VDPBF16PS does: s = step(s, a[2t + 1]·b[2t + 1]), then
// s = step(s, a[2t]·b[2t]), where step adds the exact product, rounds once to float32 (nearest even) and returns
// a signed zero for a result whose rounding with unbounded exponent is below FLT_MIN (x86 flush-to-zero). The block's
// s then meets C as in kb_sgemm: the first block stores α·s (β = 0) or fma(β, c, α·s), each later block
// c = fma(α, s, c), in ordinary float32 arithmetic (no flushing), then kb_sgemm's epilogue. The fast path and the
// reference agree bit for bit (checked on AMD Zen 5; NaN results are NaN on both, payloads may differ) in the default
// floating-point environment (round to nearest, MXCSR flush-to-zero and denormals-are-zero off). Single-threaded:
// threads may run disjoint row or column ranges of C (offset a, b and c accordingly, and the epilogue's pointers).

#ifdef __cplusplus
extern "C" {
#endif

/// x rounded to bf16 (nearest even; subnormals to signed zero, NaN quieted) and widened back to float32: the value
/// the bf16 GEMM multiplies in place of x.
float kb_bf16_round(float x);
/// Length of each k block of the bf16 summation order but possibly the last: kb_sgemm_block_length(k) rounded up
/// to even, so no block but the last has an odd length and every pair lies in one block (0 for k ≤ 0).
long kb_sgemm_bf16_block_length(long k);
/// 1 if kb_sgemm_bf16 runs its fast path here: kb_active_path() is KB_PATH_AVX512 and the CPU has AVX512_BF16;
/// else 0.
int kb_bf16_gemm_supported(void);
/// Runs the bf16 GEMM and returns 1; returns 0 with C untouched when kb_bf16_gemm_supported() is 0 (use kb_sgemm or
/// BLAS in float32 then) or the packing buffers cannot be allocated.
int kb_sgemm_bf16(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                  const float *b, long ldb, float beta, float *c, long ldc, const kb_gemm_epilogue *epilogue);
/// Readable reference of kb_sgemm_bf16 (runs on any CPU): the triple loop in the documented summation order, each
/// VDPBF16PS step emulated with fmaf and the flush-to-zero rule.
void kb_sgemm_bf16_scalar(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                          const float *b, long ldb, float beta, float *c, long ldc, const kb_gemm_epilogue *epilogue);
#if defined(__x86_64__)
/// AVX-512 BF16 kb_sgemm_bf16 (operands rounded to bf16 while packing, 12 × 32 register tile of VDPBF16PS); 0 only
/// when memory runs out. Call only where kb_path_supported(KB_PATH_AVX512) and the CPU's avx512bf16 flag say so.
int kb_sgemm_bf16_avx512(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                         const float *b, long ldb, float beta, float *c, long ldc, const kb_gemm_epilogue *epilogue);
#endif

#ifdef __cplusplus
}
#endif

#endif
