// Elementwise arithmetic, dropout, sums over an axis and cross-entropy rows: the loops behind the tensor ops, in
// portable C (the compiler vectorises them; they are bound by memory, not arithmetic). Each function works on a
// range the caller gives, so Swift splits the work over threads; none of the results depends on the split.

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "kiban_attention.h"
#include "kiban_kernels.h"

void kb_binary(kb_binary_op op, const float *a, long a_step, const float *b, long b_step, float *y, long n)
{
    if (a_step == 1 && b_step == 1) {
        switch (op) {
        case KB_BINARY_ADD: for (long i = 0; i < n; i++) y[i] = a[i] + b[i]; return;
        case KB_BINARY_SUB: for (long i = 0; i < n; i++) y[i] = a[i] - b[i]; return;
        case KB_BINARY_MUL: for (long i = 0; i < n; i++) y[i] = a[i] * b[i]; return;
        case KB_BINARY_DIV: for (long i = 0; i < n; i++) y[i] = a[i] / b[i]; return;
        }
    }
    if (a_step == 1 && b_step == 0) {
        float s = b[0];
        switch (op) {
        case KB_BINARY_ADD: for (long i = 0; i < n; i++) y[i] = a[i] + s; return;
        case KB_BINARY_SUB: for (long i = 0; i < n; i++) y[i] = a[i] - s; return;
        case KB_BINARY_MUL: for (long i = 0; i < n; i++) y[i] = a[i] * s; return;
        case KB_BINARY_DIV: for (long i = 0; i < n; i++) y[i] = a[i] / s; return;
        }
    }
    for (long i = 0; i < n; i++) {
        float u = a[i * a_step], v = b[i * b_step];
        switch (op) {
        case KB_BINARY_ADD: y[i] = u + v; break;
        case KB_BINARY_SUB: y[i] = u - v; break;
        case KB_BINARY_MUL: y[i] = u * v; break;
        case KB_BINARY_DIV: y[i] = u / v; break;
        }
    }
}

/// One element of kb_unary.
static float unary(kb_unary_op op, float x, float s)
{
    switch (op) {
    case KB_UNARY_NEG: return -x;
    case KB_UNARY_ADD_SCALAR: return x + s;
    case KB_UNARY_MUL_SCALAR: return x * s;
    case KB_UNARY_EXP: return expf(x);
    case KB_UNARY_LOG: return logf(x);
    case KB_UNARY_SQRT: return sqrtf(x);
    case KB_UNARY_TANH: return tanhf(x);
    case KB_UNARY_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case KB_UNARY_RELU: return x > 0.0f ? x : 0.0f;
    case KB_UNARY_ABS: return fabsf(x);
    case KB_UNARY_POW: return powf(x, s);
    }
    return x;
}

void kb_unary(kb_unary_op op, const float *x, long x_step, float s, float *y, long n)
{
    if (x_step == 1) {
        switch (op) {
        case KB_UNARY_NEG: for (long i = 0; i < n; i++) y[i] = -x[i]; return;
        case KB_UNARY_ADD_SCALAR: for (long i = 0; i < n; i++) y[i] = x[i] + s; return;
        case KB_UNARY_MUL_SCALAR: for (long i = 0; i < n; i++) y[i] = x[i] * s; return;
        default: break;
        }
    }
    for (long i = 0; i < n; i++)
        y[i] = unary(op, x[i * x_step], s);
}

void kb_dropout(const float *x, float *y, long n, uint64_t seed, uint64_t first_index, float p)
{
    float scale = 1.0f / (1.0f - p);
    for (long i = 0; i < n; i++)
        y[i] = kb_attention_keep(seed, first_index + (uint64_t)i, p) ? x[i] * scale : 0.0f;
}

/// Columns summed at once: the Double accumulators stay in L1.
enum { SUM_CHUNK = 256 };

void kb_sum_axis(const float *x, long outer, long reduced, long inner, long columns, float *out, int accumulate)
{
    double acc[SUM_CHUNK];
    for (long o = 0; o < outer; o++)
        for (long c0 = 0; c0 < columns; c0 += SUM_CHUNK) {
            long width = columns - c0 < SUM_CHUNK ? columns - c0 : SUM_CHUNK;
            const float *block = x + o * reduced * inner + c0;
            for (long c = 0; c < width; c++)
                acc[c] = 0.0;
            for (long r = 0; r < reduced; r++)
                for (long c = 0; c < width; c++)
                    acc[c] += (double)block[r * inner + c];
            float *target = out + o * inner + c0;
            for (long c = 0; c < width; c++)
                target[c] = accumulate ? target[c] + (float)acc[c] : (float)acc[c];
        }
}

/// The weight of class c: weights[c], or 1 without weights.
static double class_weight(const double *weights, long c)
{
    return weights == NULL ? 1.0 : weights[c];
}

void kb_cross_entropy_rows(const float *logp, const long *targets, long rows, long classes, const double *weights,
                           double smoothing, long ignore_index, double *row_loss, double *row_weight)
{
    for (long i = 0; i < rows; i++) {
        long target = targets[i];
        if (target == ignore_index) {
            row_loss[i] = row_weight[i] = 0.0;
            continue;
        }
        const float *row = logp + i * classes;
        double smoothed = 0.0;
        if (smoothing != 0.0)
            for (long c = 0; c < classes; c++)
                smoothed -= class_weight(weights, c) * (double)row[c];
        double weight = class_weight(weights, target);
        row_loss[i] = (1.0 - smoothing) * weight * -(double)row[target] + smoothing / (double)classes * smoothed;
        row_weight[i] = weight;
    }
}

void kb_cross_entropy_backward_rows(const float *logp, const long *targets, long rows, long classes,
                                    const double *weights, double weight_sum, double smoothing, long ignore_index,
                                    double scale, float *dx)
{
    for (long i = 0; i < rows; i++) {
        long target = targets[i];
        float *out = dx + i * classes;
        if (target == ignore_index) {
            for (long c = 0; c < classes; c++)
                out[c] = 0.0f;
            continue;
        }
        const float *row = logp + i * classes;
        float hard = (float)(scale * (1.0 - smoothing) * class_weight(weights, target));
        float soft = (float)(scale * smoothing / (double)classes);
        if (soft == 0.0f) {
            for (long c = 0; c < classes; c++)
                out[c] = hard * expf(row[c]);
        } else {
            float total = (float)weight_sum;
            for (long c = 0; c < classes; c++) {
                float p = expf(row[c]);
                out[c] = hard * p + soft * (total * p - (float)class_weight(weights, c));
            }
        }
        out[target] -= hard;
    }
}
