#ifndef KIBAN_ATTENTION_H
#define KIBAN_ATTENTION_H

// Fused scaled-dot-product attention, forward and backward, without a (T, S) score matrix (FlashAttention-2
// style: keys are visited in tiles with a running max and sum; the backward pass recomputes the probabilities
// from the saved log-sum-exp).
//
// Dimension legend:
//   B    batch
//   H    query heads
//   Hkv  key/value heads; H is a multiple of Hkv
//   G    H / Hkv, query heads per key/value head: query head h reads key/value head h / G
//   T    queries (rows)
//   S    keys
//   D    head width
// A "pair" is one (batch b, key/value head kvh), numbered b·Hkv + kvh; it owns the G query heads
// kvh·G .. kvh·G + G − 1 of batch b.
//
// Semantics, per query row (b, h, t) and key s:
//   score[s] = scale · (q · k[s]) + mask[b, h, t, s]    (mask term absent when the mask is NULL)
//   with causal set, keys s > t + S − T are dropped (score −inf), so the last query sees every key
//   shift = max of the scores (NaN entries ignored), or 0 when that max is −inf
//   e[s] = exp(score[s] − shift), sum = Σ e[s], prob[s] = e[s] / sum (0 for every s when sum = 0)
//   out = Σ prob[s] · drop[s] · v[s], drop[s] = keep ? 1 / (1 − p) : 0 (1 when p = 0)
//   lse = shift + log(sum), or −inf when sum = 0
// A row whose keys are all dropped (sum = 0) gives out = 0 and lse = −inf, and contributes no gradient; a NaN
// score, or a +inf one, makes the row's output (and its gradients) NaN.
//
// Dropout keep decisions are counter based, the same on every path and for every thread split. The decision for
// (b, h, t, s) uses index = ((b·H + h)·T + t)·S + s (uint64) and is the (index + 1)-th output of SplitMix64 seeded
// with `seed` (all arithmetic modulo 2^64, >> logical):
//   z = seed + (index + 1) · 0x9E3779B97F4A7C15
//   z = (z ^ (z >> 30)) · 0xBF58476D1CE4E5B9
//   z = (z ^ (z >> 27)) · 0x94D049BB133111EB
//   z = z ^ (z >> 31)
//   uniform = (float)(z >> 40) · 2^-24             (exactly representable, in [0, 1))
//   kept when uniform ≥ p
//
// Threads: a call touches only the outputs of its pairs [pair_begin, pair_end), so disjoint pair ranges may run
// on different threads. Scratch memory is one 64-byte aligned buffer per thread, grown as needed and kept for
// the thread's next call (never freed): 4·(S'·D + 64·Dp + 2048) bytes for the AVX-512 forward pass and
// 4·(2·S'·D + 96·Dp + 4096) bytes for its backward pass (S' = S rounded up to 64, Dp = D rounded up to 16);
// 4·S bytes for the scalar reference. No other state: memory grows linearly with S, never with T·S.
//
// Every function X comes as kb_X (dispatcher: the AVX-512 path when kb_active_path() is KB_PATH_AVX512, else the
// scalar reference), kb_X_scalar and, on x86-64, kb_X_avx512 (call only where kb_path_supported(KB_PATH_AVX512)).

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One attention problem: shapes, operands and options. Strides are in floats; the D axis has unit stride.
typedef struct {
    /// B, H, Hkv, T, S, D; all positive except that S = 0 gives rows with every key dropped.
    long batch, heads, kv_heads, queries, keys, width;
    /// query: (B, H, T, D); q_stride holds the strides of B, H and T.
    const float *q;
    long q_stride[3];
    /// key: (B, Hkv, S, D); k_stride holds the strides of B, Hkv and S.
    const float *k;
    long k_stride[3];
    /// value: (B, Hkv, S, D); v_stride holds the strides of B, Hkv and S.
    const float *v;
    long v_stride[3];
    /// Additive mask broadcast to (B, H, T, S), or NULL for none; mask_stride holds the strides of B, H, T and S
    /// (0 to broadcast along that axis). −inf drops a key.
    const float *mask;
    long mask_stride[4];
    /// Nonzero: query t sees keys s ≤ t + S − T only.
    int causal;
    /// Multiplies q · k (usually 1 / sqrt(D)).
    float scale;
    /// Dropout probability p in [0, 1) on the probabilities (0: no dropout).
    float dropout;
    /// Seed of the dropout keep decisions.
    uint64_t seed;
} kb_attention_problem;

/// Forward pass of pairs [pair_begin, pair_end). out: (B, H, T, D) contiguous; lse: (B, H, T) contiguous, the
/// log-sum-exp of each row's scores (before dropout), which the backward pass needs. Returns 1, or 0 when
/// scratch memory cannot be allocated (then the rows of these pairs are unspecified).
int kb_attention_forward(const kb_attention_problem *p, float *out, float *lse, long pair_begin, long pair_end);
/// Scalar reference of kb_attention_forward: one row of scores at a time, then softmax, dropout and the sum
/// over values, in float.
int kb_attention_forward_scalar(const kb_attention_problem *p, float *out, float *lse, long pair_begin,
                                long pair_end);

/// Backward pass of pairs [pair_begin, pair_end), given the forward pass's out and lse (same p, same seed) and
/// dout = ∂loss/∂out. out, dout, dq: (B, H, T, D) contiguous; lse: (B, H, T); dk, dv: (B, Hkv, S, D)
/// contiguous. dq, dk and dv are written, not accumulated into (their contents on entry do not matter); dk and
/// dv of a key/value head sum over its G query heads. Returns 1, or 0 when scratch memory cannot be allocated
/// (then the gradients of these pairs are unspecified).
int kb_attention_backward(const kb_attention_problem *p, const float *out, const float *lse, const float *dout,
                          float *dq, float *dk, float *dv, long pair_begin, long pair_end);
/// Scalar reference of kb_attention_backward: per row, prob = exp(score − lse), dprob = drop · (dout · v),
/// dscore = prob · (dprob − dout · out), then dq += scale · dscore · k, dk += scale · dscore · q and
/// dv += prob · drop · dout, in float.
int kb_attention_backward_scalar(const kb_attention_problem *p, const float *out, const float *lse,
                                 const float *dout, float *dq, float *dk, float *dv, long pair_begin,
                                 long pair_end);

#if defined(__x86_64__)
/// AVX-512 kb_attention_forward: blocks of 32 query rows against tiles of 64 keys, online softmax.
int kb_attention_forward_avx512(const kb_attention_problem *p, float *out, float *lse, long pair_begin,
                                long pair_end);
/// AVX-512 kb_attention_backward: blocks of 32 query rows against tiles of 64 keys, probabilities recomputed.
int kb_attention_backward_avx512(const kb_attention_problem *p, const float *out, const float *lse,
                                 const float *dout, float *dq, float *dk, float *dv, long pair_begin,
                                 long pair_end);
#endif

/// The dropout uniform of a linear score index: (float)(z >> 40) · 2^-24 with z the (index + 1)-th SplitMix64
/// output for `seed` (see the legend above).
float kb_attention_dropout_uniform(uint64_t seed, uint64_t index);
/// 1 if dropout with probability p keeps the score at linear index ((b·H + h)·T + t)·S + s, else 0.
int kb_attention_keep(uint64_t seed, uint64_t index, float p);

#ifdef __cplusplus
}
#endif

#endif
