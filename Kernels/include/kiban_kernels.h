#ifndef KIBAN_KERNELS_H
#define KIBAN_KERNELS_H

// Kiban C kernels: softmax, layer norm, GELU, AdamW, reductions, int8 quantisation and GEMM, and an FMA peak probe.

#include <stdint.h>
//
// Shape legend:
//   n     length of one row (the dimension a row kernel reduces over) or of a flat vector
//   rows  number of independent rows; row r occupies elements [r*n, (r+1)*n)
//   (rows, n) is a contiguous row-major float32 array of rows*n elements; (n) and (rows) are vectors.
// Lengths and counts are `long`; n = 0 or rows = 0 does nothing.
//
// Every kernel X comes as kb_X (dispatcher, runs the active path), kb_X_scalar (readable libm reference),
// kb_X_avx2 and kb_X_avx512; kb_fma_peak_gflops takes the path as an argument instead. Call an _avx2/_avx512
// variant directly only if kb_path_supported says the CPU has it. Row kernels keep no global state, so disjoint
// row ranges may run on different threads.

#ifdef __cplusplus
extern "C" {
#endif

/// A kernel implementation path.
typedef enum { KB_PATH_SCALAR = 0, KB_PATH_AVX2 = 1, KB_PATH_AVX512 = 2 } kb_path;

/// 1 if this CPU (and OS) can run `path`, else 0. Scalar is always supported.
int kb_path_supported(kb_path path);
/// The path dispatchers use; on first call it is read from KIBAN_KERNELS=scalar|avx2|avx512 as by
/// kb_reload_path_from_env (default: best supported).
kb_path kb_active_path(void);
/// Re-reads KIBAN_KERNELS (unset or empty: best supported path); an unknown or unsupported value prints one line
/// to stderr and selects the best supported path.
void kb_reload_path_from_env(void);
/// Makes `path` active and returns 1; returns 0 and changes nothing if the CPU cannot run it.
int kb_set_path(kb_path path);
/// "scalar", "avx2" or "avx512" ("unknown" for any other value).
const char *kb_path_name(kb_path path);

/// Softmax of each row: y = exp(x - max) / sum(exp(x - max)). x, y: (rows, n); y may alias x.
/// -inf entries give exactly 0; a fully masked row (all -inf) gives all 0; a row containing NaN or +inf gives NaN
/// in every entry (inf - inf poisons the row sum). Vector paths flush exp(x - max) < ~1e-38 to 0 (scalar: subnormal).
void kb_softmax_rows(const float *x, float *y, long rows, long n);
/// Scalar reference of kb_softmax_rows. x, y: (rows, n); y may alias x.
void kb_softmax_rows_scalar(const float *x, float *y, long rows, long n);
#if defined(__x86_64__)
/// AVX2+FMA kb_softmax_rows. x, y: (rows, n); y may alias x.
void kb_softmax_rows_avx2(const float *x, float *y, long rows, long n);
/// AVX-512 kb_softmax_rows. x, y: (rows, n); y may alias x.
void kb_softmax_rows_avx512(const float *x, float *y, long rows, long n);
#endif

/// Log-softmax of each row: y = x - max - log(sum(exp(x - max))). x, y: (rows, n); y may alias x.
/// -inf entries give -inf; a fully masked row (all -inf) gives all -inf; a row containing NaN or +inf gives NaN
/// in every entry.
void kb_log_softmax_rows(const float *x, float *y, long rows, long n);
/// Scalar reference of kb_log_softmax_rows. x, y: (rows, n); y may alias x.
void kb_log_softmax_rows_scalar(const float *x, float *y, long rows, long n);
#if defined(__x86_64__)
/// AVX2+FMA kb_log_softmax_rows. x, y: (rows, n); y may alias x.
void kb_log_softmax_rows_avx2(const float *x, float *y, long rows, long n);
/// AVX-512 kb_log_softmax_rows. x, y: (rows, n); y may alias x.
void kb_log_softmax_rows_avx512(const float *x, float *y, long rows, long n);
#endif

/// Softmax backward per row: dx = y * (dy - sum(dy * y)), y the softmax output. y, dy, dx: (rows, n); dx may alias dy.
void kb_softmax_rows_backward(const float *y, const float *dy, float *dx, long rows, long n);
/// Scalar reference of kb_softmax_rows_backward. y, dy, dx: (rows, n); dx may alias dy.
void kb_softmax_rows_backward_scalar(const float *y, const float *dy, float *dx, long rows, long n);
#if defined(__x86_64__)
/// AVX2+FMA kb_softmax_rows_backward. y, dy, dx: (rows, n); dx may alias dy.
void kb_softmax_rows_backward_avx2(const float *y, const float *dy, float *dx, long rows, long n);
/// AVX-512 kb_softmax_rows_backward. y, dy, dx: (rows, n); dx may alias dy.
void kb_softmax_rows_backward_avx512(const float *y, const float *dy, float *dx, long rows, long n);
#endif

/// Log-softmax backward per row: dx = dy - exp(y) * sum(dy), y the log-softmax output (sum(dy) accumulated in double).
/// y, dy, dx: (rows, n); dx may alias dy.
void kb_log_softmax_rows_backward(const float *y, const float *dy, float *dx, long rows, long n);
/// Scalar reference of kb_log_softmax_rows_backward. y, dy, dx: (rows, n); dx may alias dy.
void kb_log_softmax_rows_backward_scalar(const float *y, const float *dy, float *dx, long rows, long n);
#if defined(__x86_64__)
/// AVX2+FMA kb_log_softmax_rows_backward. y, dy, dx: (rows, n); dx may alias dy.
void kb_log_softmax_rows_backward_avx2(const float *y, const float *dy, float *dx, long rows, long n);
/// AVX-512 kb_log_softmax_rows_backward. y, dy, dx: (rows, n); dx may alias dy.
void kb_log_softmax_rows_backward_avx512(const float *y, const float *dy, float *dx, long rows, long n);
#endif

/// Layer norm per row: y = (x - mean) * rstd * weight + bias, rstd = 1/sqrt(biased var + eps); two-pass, the mean
/// summed in double.
/// x, y: (rows, n); weight, bias: (n) or NULL (1, 0); mean, rstd: (rows) outputs or NULL. y may alias x.
void kb_layernorm_forward(const float *x, const float *weight, const float *bias, float *y, float *mean, float *rstd,
                          long rows, long n, float eps);
/// Scalar reference of kb_layernorm_forward (same shapes).
void kb_layernorm_forward_scalar(const float *x, const float *weight, const float *bias, float *y, float *mean,
                                 float *rstd, long rows, long n, float eps);
#if defined(__x86_64__)
/// AVX2+FMA kb_layernorm_forward (same shapes).
void kb_layernorm_forward_avx2(const float *x, const float *weight, const float *bias, float *y, float *mean,
                               float *rstd, long rows, long n, float eps);
/// AVX-512 kb_layernorm_forward (same shapes).
void kb_layernorm_forward_avx512(const float *x, const float *weight, const float *bias, float *y, float *mean,
                                 float *rstd, long rows, long n, float eps);
#endif

/// Layer norm backward: xhat = (x - mean) * rstd, g = dy * weight; dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
/// (overwritten); dweight += sum over rows of dy * xhat, dbias += sum over rows of dy (accumulated).
/// x, dy, dx: (rows, n); weight: (n) or NULL (1); mean, rstd: (rows); dweight, dbias: (n) or NULL. dx may alias dy.
/// Threads splitting rows need their own dweight/dbias accumulators.
void kb_layernorm_backward(const float *x, const float *weight, const float *mean, const float *rstd, const float *dy,
                           float *dx, float *dweight, float *dbias, long rows, long n);
/// Scalar reference of kb_layernorm_backward (same shapes).
void kb_layernorm_backward_scalar(const float *x, const float *weight, const float *mean, const float *rstd,
                                  const float *dy, float *dx, float *dweight, float *dbias, long rows, long n);
#if defined(__x86_64__)
/// AVX2+FMA kb_layernorm_backward (same shapes).
void kb_layernorm_backward_avx2(const float *x, const float *weight, const float *mean, const float *rstd,
                                const float *dy, float *dx, float *dweight, float *dbias, long rows, long n);
/// AVX-512 kb_layernorm_backward (same shapes).
void kb_layernorm_backward_avx512(const float *x, const float *weight, const float *mean, const float *rstd,
                                  const float *dy, float *dx, float *dweight, float *dbias, long rows, long n);
#endif

/// GELU (tanh approximation): y = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))); gelu(-inf) = 0.
/// x, y: (n); y may alias x.
void kb_gelu_tanh_forward(const float *x, float *y, long n);
/// Scalar reference of kb_gelu_tanh_forward. x, y: (n); y may alias x.
void kb_gelu_tanh_forward_scalar(const float *x, float *y, long n);
#if defined(__x86_64__)
/// AVX2+FMA kb_gelu_tanh_forward. x, y: (n); y may alias x.
void kb_gelu_tanh_forward_avx2(const float *x, float *y, long n);
/// AVX-512 kb_gelu_tanh_forward. x, y: (n); y may alias x.
void kb_gelu_tanh_forward_avx512(const float *x, float *y, long n);
#endif

/// GELU (tanh) backward: dx = dy * gelu_tanh'(x); the derivative is 1 at +inf and 0 at -inf.
/// x, dy, dx: (n); dx may alias dy.
void kb_gelu_tanh_backward(const float *x, const float *dy, float *dx, long n);
/// Scalar reference of kb_gelu_tanh_backward. x, dy, dx: (n); dx may alias dy.
void kb_gelu_tanh_backward_scalar(const float *x, const float *dy, float *dx, long n);
#if defined(__x86_64__)
/// AVX2+FMA kb_gelu_tanh_backward. x, dy, dx: (n); dx may alias dy.
void kb_gelu_tanh_backward_avx2(const float *x, const float *dy, float *dx, long n);
/// AVX-512 kb_gelu_tanh_backward. x, dy, dx: (n); dx may alias dy.
void kb_gelu_tanh_backward_avx512(const float *x, const float *dy, float *dx, long n);
#endif

/// GELU (exact): y = 0.5 x (1 + erf(x / sqrt(2))). x, y: (n); y may alias x. gelu(-inf) = 0.
void kb_gelu_erf_forward(const float *x, float *y, long n);
/// Scalar reference of kb_gelu_erf_forward. x, y: (n); y may alias x.
void kb_gelu_erf_forward_scalar(const float *x, float *y, long n);
#if defined(__x86_64__)
/// AVX2+FMA kb_gelu_erf_forward. x, y: (n); y may alias x.
void kb_gelu_erf_forward_avx2(const float *x, float *y, long n);
/// AVX-512 kb_gelu_erf_forward. x, y: (n); y may alias x.
void kb_gelu_erf_forward_avx512(const float *x, float *y, long n);
#endif

/// GELU (exact) backward: dx = dy * (Phi(x) + x phi(x)); the derivative is 1 at +inf and 0 at -inf.
/// x, dy, dx: (n); dx may alias dy.
void kb_gelu_erf_backward(const float *x, const float *dy, float *dx, long n);
/// Scalar reference of kb_gelu_erf_backward. x, dy, dx: (n); dx may alias dy.
void kb_gelu_erf_backward_scalar(const float *x, const float *dy, float *dx, long n);
#if defined(__x86_64__)
/// AVX2+FMA kb_gelu_erf_backward. x, dy, dx: (n); dx may alias dy.
void kb_gelu_erf_backward_avx2(const float *x, const float *dy, float *dx, long n);
/// AVX-512 kb_gelu_erf_backward. x, dy, dx: (n); dx may alias dy.
void kb_gelu_erf_backward_avx512(const float *x, const float *dy, float *dx, long n);
#endif

/// AdamW step (PyTorch semantics): param *= 1 - lr*weight_decay; m = beta1 m + (1-beta1) g;
/// v = beta2 v + (1-beta2) g^2; param -= lr * (m / bias_correction1) / (sqrt(v / bias_correction2) + eps),
/// with bias_correctionK = 1 - betaK^t.
/// param, grad, m, v: (n); param, m, v are updated in place.
void kb_adamw_update(float *param, const float *grad, float *m, float *v, long n, float lr, float beta1, float beta2,
                     float eps, float weight_decay, float bias_correction1, float bias_correction2);
/// Scalar reference of kb_adamw_update (same arguments).
void kb_adamw_update_scalar(float *param, const float *grad, float *m, float *v, long n, float lr, float beta1,
                            float beta2, float eps, float weight_decay, float bias_correction1, float bias_correction2);
#if defined(__x86_64__)
/// AVX2 kb_adamw_update; same operation order as the scalar reference (same arguments).
void kb_adamw_update_avx2(float *param, const float *grad, float *m, float *v, long n, float lr, float beta1,
                          float beta2, float eps, float weight_decay, float bias_correction1, float bias_correction2);
/// AVX-512 kb_adamw_update; same operation order as the scalar reference (same arguments).
void kb_adamw_update_avx512(float *param, const float *grad, float *m, float *v, long n, float lr, float beta1,
                            float beta2, float eps, float weight_decay, float bias_correction1, float bias_correction2);
#endif

/// Sum of x: (n), accumulated in double. Deterministic for a given path and n (order documented per variant).
double kb_sum(const float *x, long n);
/// Scalar reference of kb_sum: one double accumulator, elements in index order. x: (n).
double kb_sum_scalar(const float *x, long n);
#if defined(__x86_64__)
/// AVX2 kb_sum: element i of each full 16-element block adds to double lane i; lanes combined in a fixed tree,
/// then the remaining elements in index order. x: (n).
double kb_sum_avx2(const float *x, long n);
/// AVX-512 kb_sum: element i of each full 32-element block adds to double lane i; lanes combined in a fixed tree,
/// then the remaining elements in index order. x: (n).
double kb_sum_avx512(const float *x, long n);
#endif

/// Sum of x*x over x: (n), squares and accumulation in double. Deterministic for a given path and n.
double kb_sum_squares(const float *x, long n);
/// Scalar reference of kb_sum_squares: one double accumulator, elements in index order. x: (n).
double kb_sum_squares_scalar(const float *x, long n);
#if defined(__x86_64__)
/// AVX2 kb_sum_squares, same order as kb_sum_avx2. x: (n).
double kb_sum_squares_avx2(const float *x, long n);
/// AVX-512 kb_sum_squares, same order as kb_sum_avx512. x: (n).
double kb_sum_squares_avx512(const float *x, long n);
#endif

// ---- int8 (W8A8) quantisation and GEMM ----
//
// Legend: m activation rows (tokens), n output channels, k input features; xq: (m, k) int8 row-major,
// w: (n, k) int8 as PyTorch stores a Linear weight, acc: (m, n) int32, y: (m, n) float32.
// acc[i, j] = Σ_k xq[i, k] · w[j, k], exact in int32 for k ≤ 131072 on every path.
// The GEMM reads w from a packed copy (kb_int8_pack_weights) laid out for the VNNI micro-kernel; every path reads
// the same packed bytes. Row ranges are independent: threads may run disjoint row blocks (offset xq, x_scales, y
// or acc by whole rows) against one packed weight.

/// An int8 GEMM implementation path (separate from kb_path: VNNI is its own CPU feature).
typedef enum { KB_INT8_PATH_SCALAR = 0, KB_INT8_PATH_AVX512_VNNI = 1 } kb_int8_path;

/// 1 if this CPU can run `path` (AVX-512 VNNI needs kb_path_supported(KB_PATH_AVX512) and avx512vnni), else 0.
int kb_int8_path_supported(kb_int8_path path);
/// The path kb_int8_gemm and kb_int8_gemm_s32 use: AVX-512 VNNI when kb_active_path() is KB_PATH_AVX512 and the
/// CPU has VNNI, else scalar (so KIBAN_KERNELS=scalar or avx2 selects the scalar int8 path).
kb_int8_path kb_int8_active_path(void);
/// "scalar" or "avx512_vnni" ("unknown" for any other value).
const char *kb_int8_path_name(kb_int8_path path);

/// Symmetric per-row quantisation: scales[r] = max|x[r, :]| / 127 and q[r, i] = x[r, i] / scales[r] rounded to
/// the nearest integer, ties to even, clamped to ±127 (so -128 never occurs). A row of zeros gets scale 0 and
/// q = 0. A row holding NaN gets scale NaN (so its GEMM outputs are NaN) and q = -127 throughout; ±inf gives
/// scale inf (non-finite outputs). x: (rows, n) float32; q: (rows, n) int8; scales: (rows). The AVX-512 path (used when
/// kb_active_path() is KB_PATH_AVX512) divides and rounds as the scalar one, so both agree bit for bit.
void kb_quantize_rows_int8(const float *x, int8_t *q, float *scales, long rows, long n);
/// Scalar reference of kb_quantize_rows_int8 (same arguments).
void kb_quantize_rows_int8_scalar(const float *x, int8_t *q, float *scales, long rows, long n);

/// Bytes of the packed copy of w: (n, k): np · kp panel bytes and np int32 column sums, np = n rounded up to 16,
/// kp = k rounded up to 4.
long kb_int8_packed_bytes(long n, long k);
/// Packs w: (n, k) into `packed` (kb_int8_packed_bytes(n, k) bytes, 4-byte aligned; 64 is best): panels of 16
/// output channels, each kp / 4 groups of 64 bytes holding 4 consecutive k of its 16 channels (channel c of group
/// g at byte 4c: w[j, 4g .. 4g + 3]), zero-padded; then Σ_k w[j, k] for each of the np channels (0 for padding).
void kb_int8_pack_weights(const int8_t *w, long n, long k, void *packed);

/// acc = xq · wᵀ exactly (int32), w from kb_int8_pack_weights(w, n, k). acc: (m, n).
void kb_int8_gemm_s32(const int8_t *xq, const void *packed, int32_t *acc, long m, long n, long k);
/// Scalar reference of kb_int8_gemm_s32 (same arguments): the textbook triple loop over the packed bytes.
void kb_int8_gemm_s32_scalar(const int8_t *xq, const void *packed, int32_t *acc, long m, long n, long k);

/// Dequantising GEMM: y[i, j] = ((float)acc[i, j] · w_scales[j]) · x_scales[i] + bias[j], rounded in that order
/// (no bias term when bias is NULL), acc = xq · wᵀ as in kb_int8_gemm_s32. x_scales: (m); w_scales, bias: (n).
void kb_int8_gemm(const int8_t *xq, const float *x_scales, const void *packed, const float *w_scales,
                  const float *bias, float *y, long m, long n, long k);
/// Scalar reference of kb_int8_gemm (same arguments and rounding order).
void kb_int8_gemm_scalar(const int8_t *xq, const float *x_scales, const void *packed, const float *w_scales,
                         const float *bias, float *y, long m, long n, long k);

#if defined(__x86_64__)
/// AVX-512 kb_quantize_rows_int8 (same arguments).
void kb_quantize_rows_int8_avx512(const float *x, int8_t *q, float *scales, long rows, long n);
/// AVX-512 VNNI kb_int8_gemm_s32 (vpdpbusd, 6 × 64 register tile); call only where kb_int8_path_supported says so.
void kb_int8_gemm_s32_avx512_vnni(const int8_t *xq, const void *packed, int32_t *acc, long m, long n, long k);
/// AVX-512 VNNI kb_int8_gemm (same epilogue rounding as the scalar path, so results agree bit for bit).
void kb_int8_gemm_avx512_vnni(const int8_t *xq, const float *x_scales, const void *packed, const float *w_scales,
                              const float *bias, float *y, long m, long n, long k);
#endif

// ---- elementwise, dropout, sums, cross-entropy (elementwise.c) ----
//
// Plain loops over a range the caller chooses, so callers split the work over threads; every element's result is
// the same whatever the split.

/// The binary operations of kb_binary.
typedef enum { KB_BINARY_ADD, KB_BINARY_SUB, KB_BINARY_MUL, KB_BINARY_DIV } kb_binary_op;
/// y[i] = a[i·a_step] op b[i·b_step] for i < n (a step of 0 broadcasts one value). y: (n), contiguous.
void kb_binary(kb_binary_op op, const float *a, long a_step, const float *b, long b_step, float *y, long n);

/// The unary operations of kb_unary; s is the scalar of ADD_SCALAR, MUL_SCALAR and POW (the exponent).
typedef enum {
    KB_UNARY_NEG, KB_UNARY_ADD_SCALAR, KB_UNARY_MUL_SCALAR, KB_UNARY_EXP, KB_UNARY_LOG, KB_UNARY_SQRT, KB_UNARY_TANH,
    KB_UNARY_SIGMOID, KB_UNARY_RELU, KB_UNARY_ABS, KB_UNARY_POW
} kb_unary_op;
/// y[i] = op(x[i·x_step]) for i < n, with libm's float functions (expf, logf, sqrtf, tanhf, powf); sigmoid is
/// 1 / (1 + expf(−x)), relu max(x, 0). y: (n), contiguous.
void kb_unary(kb_unary_op op, const float *x, long x_step, float s, float *y, long n);

/// Inverted dropout of n elements whose linear indices start at first_index: y[i] = x[i] / (1 − p) where
/// kb_attention_keep(seed, first_index + i, p) keeps it, else 0 (the counter-based rule of the attention kernel, so
/// a mask can be made in parallel pieces and remade in the backward pass instead of stored). 0 ≤ p < 1.
void kb_dropout(const float *x, float *y, long n, uint64_t seed, uint64_t first_index, float p);

/// Sums over the middle axis of a contiguous x (outer, reduced, inner), for the first `columns` ≤ inner positions of
/// the inner axis (offset x and out to start elsewhere): out[o·inner + c] = Σ_r x[(o·reduced + r)·inner + c], added
/// in Double in increasing r, then rounded to float; with accumulate = 1 the sum is added to out's value instead.
void kb_sum_axis(const float *x, long outer, long reduced, long inner, long columns, float *out, int accumulate);

/// Cross-entropy terms of `rows` rows of log-probabilities logp (rows, classes) against targets (rows), with class
/// weights w (NULL: all 1) and label smoothing ε: row_loss[i] = (1 − ε)·w[yᵢ]·(−logp[i, yᵢ]) + ε/C·Σ_c w[c]·(−logp[i, c])
/// and row_weight[i] = w[yᵢ], in Double; both 0 where yᵢ = ignore_index.
void kb_cross_entropy_rows(const float *logp, const long *targets, long rows, long classes, const double *weights,
                           double smoothing, long ignore_index, double *row_loss, double *row_weight);
/// The gradient of the mean cross-entropy times the upstream gradient, scale = upstream / Σᵢ w[yᵢ]:
/// dx[i, c] = scale·((1 − ε)·w[yᵢ]·(p − [c = yᵢ]) + ε/C·(weight_sum·p − w[c])) with p = exp(logp[i, c]), in float;
/// rows with yᵢ = ignore_index are 0. dx: (rows, classes).
void kb_cross_entropy_backward_rows(const float *logp, const long *targets, long rows, long classes,
                                    const double *weights, double weight_sum, double smoothing, long ignore_index,
                                    double scale, float *dx);

// ---- GEMM epilogue ----
//
// What a GEMM does to C after its last k block, tile by tile while the tile is still in cache. i, j index the C of the
// call (row-major, as its c and ldc). In this order:
//   c[i, j] += residual[i·ldr + j]                     when residual is not NULL (the residual add of a transformer);
//   activated[i·ld_activated + j] = GELU(c[i, j])      when activated is not NULL (erf form, or tanh when gelu_tanh
//                                                      is 1; the same functions as kb_gelu_*_forward), C keeping
//                                                      the pre-activation that the backward pass needs.
// Each step is the one an unfused pass would do (c + r is r + c in IEEE arithmetic), so a fused GEMM equals the GEMM
// followed by the separate add and GELU bit for bit.

/// The epilogue of a GEMM; a NULL epilogue, or one with both pointers NULL, does nothing.
typedef struct {
    const float *residual;
    long ldr;
    float *activated;
    long ld_activated;
    int gelu_tanh;
} kb_gemm_epilogue;

/// Applies `epilogue` to the block of the call's C at rows [row, row + rows), columns [col, col + cols), where c
/// points at C[row, col] with row stride ldc. Does nothing when epilogue is NULL.
void kb_gemm_epilogue_apply(const kb_gemm_epilogue *epilogue, long row, long col, long rows, long cols, float *c,
                            long ldc);

// ---- float32 GEMM ----
//
// Legend: m rows of C, n columns, k the inner dimension; C = α·op(A)·op(B) + β·C on row-major matrices with
// op(A): (m, k), op(B): (k, n). trans_a = 0 reads A as (m, k) with row stride lda ≥ k; trans_a = 1 reads A stored
// (k, m) (lda ≥ m) as its transpose; likewise trans_b, ldb. C: (m, n), row stride ldc ≥ n; when β = 0, C is not read.
// Summation order (both paths, every m and n, so a row's result does not depend on the rows computed with it): k is
// cut into kb_sgemm_block_count(k) consecutive blocks of kb_sgemm_block_length(k) (the last may be shorter); each
// block's s = Σ_p op(A)[i, p]·op(B)[p, j] is formed by FMAs in increasing p from 0; the first block stores α·s
// (β = 0) or fma(β, c, α·s), each later block c = fma(α, s, c); then the epilogue (NULL: none). The fast path and the
// reference therefore agree bit for bit. Single-threaded: threads may run disjoint row or column ranges of C (offset
// a, b and c accordingly, and the epilogue's pointers with c).

/// Number of k blocks of the summation order (0 for k ≤ 0): ceil(k / 384).
long kb_sgemm_block_count(long k);
/// Length of each k block but possibly the last: ceil(k / kb_sgemm_block_count(k)).
long kb_sgemm_block_length(long k);
/// Runs the fast GEMM of the active path and returns 1; returns 0 with C untouched when the active path has none
/// (only KB_PATH_AVX512 has one: use BLAS otherwise) or its packing buffers cannot be allocated.
int kb_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda, const float *b,
             long ldb, float beta, float *c, long ldc, const kb_gemm_epilogue *epilogue);
/// Readable reference of kb_sgemm: the triple loop in the documented summation order, with fmaf.
void kb_sgemm_scalar(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                     const float *b, long ldb, float beta, float *c, long ldc, const kb_gemm_epilogue *epilogue);
#if defined(__x86_64__)
/// AVX-512 kb_sgemm (packed panels, 12 × 32 register tile); 0 only when memory runs out. Call only where
/// kb_path_supported(KB_PATH_AVX512) says so.
int kb_sgemm_avx512(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                    const float *b, long ldb, float beta, float *c, long ldc, const kb_gemm_epilogue *epilogue);
#endif

/// Runs an FMA-only loop of `path` on the calling thread for about `seconds` and returns its GFLOP/s (2 flops per
/// FMA lane: 16 lanes avx512, 8 avx2; scalar uses mulss+addss pairs, 2 flops each); 0 if the CPU cannot run `path`.
/// The loops are inline assembly, so the figure does not depend on the optimisation level.
double kb_fma_peak_gflops(kb_path path, double seconds);

#ifdef __cplusplus
}
#endif

#endif
