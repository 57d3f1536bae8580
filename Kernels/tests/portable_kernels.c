// Runs the portable C path of every kernel on fixed inputs and prints each result, one value per line
// ("kernel index value", %.9g), so that the output of an x86-64 build and of an aarch64 build under qemu can be
// compared value by value (Kernels/tests/cross_check.sh). On x86-64 the scalar path is selected first, so both
// builds run the same code.

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiban_attention.h"
#include "kiban_bf16.h"
#include "kiban_kernels.h"

/// A fixed stream of floats in [-2, 2): a 64-bit LCG's top 24 bits.
static uint64_t lcg_state = 0x9E3779B97F4A7C15u;

static float next_float(void)
{
    lcg_state = lcg_state * 6364136223846793005u + 1442695040888963407u;
    return (float)(lcg_state >> 40) / (float)(1u << 24) * 4.0f - 2.0f;
}

static float *random_floats(long n)
{
    float *values = malloc((size_t)n * sizeof(float));
    for (long i = 0; i < n; i++)
        values[i] = next_float();
    return values;
}

static void print_floats(const char *name, const float *values, long n)
{
    for (long i = 0; i < n; i++)
        printf("%s %ld %.9g\n", name, i, (double)values[i]);
}

static void row_kernels(void)
{
    enum { ROWS = 5, N = 37 };
    float *x = random_floats(ROWS * N), *dy = random_floats(ROWS * N), *y = calloc(ROWS * N, sizeof(float));
    float *dx = calloc(ROWS * N, sizeof(float));
    x[3] = -INFINITY;  // a masked entry

    kb_softmax_rows(x, y, ROWS, N);
    print_floats("softmax", y, ROWS * N);
    kb_softmax_rows_backward(y, dy, dx, ROWS, N);
    print_floats("softmax_backward", dx, ROWS * N);
    kb_log_softmax_rows(x, y, ROWS, N);
    print_floats("log_softmax", y, ROWS * N);
    kb_log_softmax_rows_backward(y, dy, dx, ROWS, N);
    print_floats("log_softmax_backward", dx, ROWS * N);

    x[3] = 0.5f;
    float *weight = random_floats(N), *bias = random_floats(N), mean[ROWS], rstd[ROWS];
    float *dweight = calloc(N, sizeof(float)), *dbias = calloc(N, sizeof(float));
    kb_layernorm_forward(x, weight, bias, y, mean, rstd, ROWS, N, 1e-5f);
    print_floats("layernorm", y, ROWS * N);
    kb_layernorm_backward(x, weight, mean, rstd, dy, dx, dweight, dbias, ROWS, N);
    print_floats("layernorm_dx", dx, ROWS * N);
    print_floats("layernorm_dweight", dweight, N);
    print_floats("layernorm_dbias", dbias, N);

    kb_gelu_erf_forward(x, y, ROWS * N);
    print_floats("gelu_erf", y, ROWS * N);
    kb_gelu_erf_backward(x, dy, dx, ROWS * N);
    print_floats("gelu_erf_backward", dx, ROWS * N);
    kb_gelu_tanh_forward(x, y, ROWS * N);
    print_floats("gelu_tanh", y, ROWS * N);
    kb_gelu_tanh_backward(x, dy, dx, ROWS * N);
    print_floats("gelu_tanh_backward", dx, ROWS * N);

    float *m = calloc(ROWS * N, sizeof(float)), *v = calloc(ROWS * N, sizeof(float));
    for (int step = 1; step <= 3; step++)
        kb_adamw_update(x, dy, m, v, ROWS * N, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, 1.0f - powf(0.9f, (float)step),
                        1.0f - powf(0.999f, (float)step));
    print_floats("adamw", x, ROWS * N);
    printf("sum 0 %.17g\nsum_squares 0 %.17g\n", kb_sum(dy, ROWS * N), kb_sum_squares(dy, ROWS * N));
    free(x), free(dy), free(y), free(dx), free(weight), free(bias), free(dweight), free(dbias), free(m), free(v);
}

static void gemms(void)
{
    enum { M = 13, N = 35, K = 400 };
    float *a = random_floats(M * K), *b = random_floats(N * K), *c = random_floats(M * N);
    float *residual = random_floats(M * N), *activated = calloc(M * N, sizeof(float));
    kb_gemm_epilogue epilogue = {residual, N, activated, N, 0};
    kb_sgemm_scalar(0, 1, M, N, K, 0.5f, a, K, b, K, 1.0f, c, N, &epilogue);
    print_floats("sgemm", c, M * N);
    print_floats("sgemm_gelu", activated, M * N);
    kb_sgemm_bf16_scalar(1, 0, M, N, 20, 1.0f, a, M, b, N, 0.0f, c, N, NULL);
    print_floats("sgemm_bf16", c, M * N);

    int8_t *xq = malloc(M * K), *wq = malloc(N * K);
    float x_scales[M], w_scales[N];
    kb_quantize_rows_int8(a, xq, x_scales, M, K);
    kb_quantize_rows_int8(b, wq, w_scales, N, K);
    print_floats("quantize_scales", x_scales, M);
    void *packed = aligned_alloc(64, (size_t)((kb_int8_packed_bytes(N, K) + 63) / 64 * 64));
    kb_int8_pack_weights(wq, N, K, packed);
    kb_int8_gemm(xq, x_scales, packed, w_scales, NULL, c, M, N, K);
    print_floats("int8_gemm", c, M * N);
    free(a), free(b), free(c), free(residual), free(activated), free(xq), free(wq), free(packed);
}

static void attention(void)
{
    enum { B = 2, H = 2, T = 7, S = 9, D = 16 };
    float *q = random_floats(B * H * T * D), *k = random_floats(B * H * S * D), *v = random_floats(B * H * S * D);
    float *dout = random_floats(B * H * T * D), *out = calloc(B * H * T * D, sizeof(float));
    float *lse = calloc(B * H * T, sizeof(float)), *dq = calloc(B * H * T * D, sizeof(float));
    float *dk = calloc(B * H * S * D, sizeof(float)), *dv = calloc(B * H * S * D, sizeof(float));
    kb_attention_problem p = {
        B, H, H, T, S, D, q, {H * T * D, T * D, D}, k, {H * S * D, S * D, D}, v, {H * S * D, S * D, D},
        NULL, {0, 0, 0, 0}, 1, 0.25f, 0.2f, 7,
    };
    kb_attention_forward(&p, out, lse, 0, B * H);
    print_floats("attention", out, B * H * T * D);
    print_floats("attention_lse", lse, B * H * T);
    kb_attention_backward(&p, out, lse, dout, dq, dk, dv, 0, B * H);
    print_floats("attention_dq", dq, B * H * T * D);
    print_floats("attention_dk", dk, B * H * S * D);
    print_floats("attention_dv", dv, B * H * S * D);
    free(q), free(k), free(v), free(dout), free(out), free(lse), free(dq), free(dk), free(dv);
}

static void elementwise(void)
{
    enum { ROWS = 6, N = 11 };
    float *a = random_floats(ROWS * N), *b = random_floats(N), *y = calloc(ROWS * N, sizeof(float));
    kb_binary(KB_BINARY_DIV, a, 1, b, 0, y, N);
    kb_binary(KB_BINARY_MUL, a + N, 1, b, 1, y + N, N);
    print_floats("binary", y, 2 * N);
    kb_unary(KB_UNARY_TANH, a, 1, 0.0f, y, ROWS * N);
    print_floats("unary_tanh", y, ROWS * N);
    kb_unary(KB_UNARY_POW, b, 1, 1.5f, y, N);
    print_floats("unary_pow", y, N);
    kb_dropout(a, y, ROWS * N, 42, 1000, 0.3f);
    print_floats("dropout", y, ROWS * N);
    kb_sum_axis(a, 2, 3, N, N, y, 0);
    print_floats("sum_axis", y, 2 * N);

    long targets[ROWS] = {0, 3, -100, 10, 5, 1};
    double weights[N], loss[ROWS], weight[ROWS], weight_sum = 0.0;
    for (int c = 0; c < N; c++)
        weight_sum += weights[c] = 0.5 + 0.1 * c;
    kb_log_softmax_rows(a, y, ROWS, N);
    kb_cross_entropy_rows(y, targets, ROWS, N, weights, 0.1, -100, loss, weight);
    for (int i = 0; i < ROWS; i++)
        printf("cross_entropy_loss %d %.17g\ncross_entropy_weight %d %.17g\n", i, loss[i], i, weight[i]);
    float *dx = calloc(ROWS * N, sizeof(float));
    kb_cross_entropy_backward_rows(y, targets, ROWS, N, weights, weight_sum, 0.1, -100, 0.25, dx);
    print_floats("cross_entropy_backward", dx, ROWS * N);
    free(a), free(b), free(y), free(dx);
}

int main(void)
{
    if (!kb_set_path(KB_PATH_SCALAR)) {
        fprintf(stderr, "the scalar path cannot be selected\n");
        return 1;
    }
    printf("path 0 %s\n", kb_path_name(kb_active_path()));
    row_kernels();
    gemms();
    attention();
    elementwise();
    return 0;
}
