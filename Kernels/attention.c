// Fused scaled-dot-product attention (flash style), forward and backward; semantics in kiban_attention.h.
//
// Dimension legend: B batch, H query heads, Hkv key/value heads, G = H / Hkv query heads per key/value head,
// T queries, S keys, D head width, Dp = D rounded up to 16.
//
// Rows of a pair: the pair b·Hkv + kvh owns the G·T query rows (h, t) of the heads h = kvh·G .. kvh·G + G − 1,
// numbered n = (h − kvh·G)·T + t. They are consecutive in out, dout, dq ((B, H, T, D): row pair·G·T + n) and
// lse; the dropout index of row (h, t) and key s is ((b·H + h)·T + t)·S + s.
//
// Scalar reference: one row at a time, its S scores in a buffer, float arithmetic.
//
// AVX-512 path: the pair's K (and, for the backward pass, V) is packed transposed in tiles of KEYS = 64 keys,
// (tile, D, KEYS), so scores are outer products: a broadcast query element times a vector of 16 keys. Query
// rows go in blocks of BLOCK = 32, packed (BLOCK, Dp) times scale and zero padded, cut into micro-blocks of
// ROWS = 4 rows whose ROWS × KEYS scores stay in registers. For each key tile up to the block's causal horizon:
//   forward:  running max m per row and running sum l per row and lane (online softmax); prob = exp(score − m)
//             · drop into a (BLOCK, KEYS) buffer; acc (BLOCK, Dp) is rescaled by exp(m_old − m_new) and gets
//             prob · V. At the end out = acc / l and lse = m + log(l).
//   backward: prob = exp(score − lse), dprob = drop · (dout · Vᵀ), dscore = prob · (dprob − dout · out); then
//             dV += (prob · drop)ᵀ · dout and dK += dscoreᵀ · (scale · Q), accumulated in the caller's dk and dv
//             (zeroed per pair), and dQ += dscore · K in a (BLOCK, Dp) buffer stored times scale at the end.
// Those products are small GEMMs vectorised along D with register tiles of 4 or 8 rows.

#include "kiban_attention.h"
#include "kiban_kernels.h"
#include "scratch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN_GAMMA 0x9E3779B97F4A7C15ull
#define MIX_1 0xBF58476D1CE4E5B9ull
#define MIX_2 0x94D049BB133111EBull
#define UNIFORM_BITS 24

// ---- dropout ----

/// The (index + 1)-th output of SplitMix64 seeded with `seed`.
static uint64_t splitmix64(uint64_t seed, uint64_t index)
{
    uint64_t z = seed + (index + 1) * GOLDEN_GAMMA;
    z = (z ^ (z >> 30)) * MIX_1;
    z = (z ^ (z >> 27)) * MIX_2;
    return z ^ (z >> 31);
}

float kb_attention_dropout_uniform(uint64_t seed, uint64_t index)
{
    return (float)(splitmix64(seed, index) >> (64 - UNIFORM_BITS)) * 0x1p-24f;
}

int kb_attention_keep(uint64_t seed, uint64_t index, float p)
{
    return kb_attention_dropout_uniform(seed, index) >= p;
}

// ---- shared helpers ----

static _Thread_local kb_scratch scratch_buffer;

/// At least max(count, 1) floats of this thread's scratch buffer, or NULL when memory runs out.
static float *reserve(size_t count)
{
    return kb_scratch_reserve(&scratch_buffer, count * sizeof(float));
}

/// G, query heads per key/value head.
static long group_size(const kb_attention_problem *p)
{
    return p->heads / p->kv_heads;
}

/// One pair b·Hkv + kvh: where its operands start.
typedef struct {
    long batch, head;    // b and the pair's first query head kvh·G
    long rows;           // G·T query rows; the pair's first is row index·G·T of out, lse, dout and dq
    const float *k, *v;  // key and value 0; key s at k + s·k_stride[2], value s at v + s·v_stride[2]
} pair_view;

static pair_view view_pair(const kb_attention_problem *p, long pair)
{
    pair_view view;
    view.batch = pair / p->kv_heads;
    view.head = pair % p->kv_heads * group_size(p);
    view.rows = group_size(p) * p->queries;
    view.k = p->k + view.batch * p->k_stride[0] + pair % p->kv_heads * p->k_stride[1];
    view.v = p->v + view.batch * p->v_stride[0] + pair % p->kv_heads * p->v_stride[1];
    return view;
}

/// Where one query row reads its inputs.
typedef struct {
    const float *q;       // (D)
    const float *mask;    // (S) with stride mask_stride[3], or NULL
    long visible;         // keys [0, visible) are not causally dropped; 0 ≤ visible ≤ S
    uint64_t drop_index;  // dropout index of key 0
} query_row;

/// Query t of head pair->head + head.
static query_row locate_row(const kb_attention_problem *p, const pair_view *pair, long head, long t)
{
    long T = p->queries, S = p->keys, b = pair->batch, h = pair->head + head;
    long horizon = p->causal ? t + S - T + 1 : S;
    query_row row;
    row.q = p->q + b * p->q_stride[0] + h * p->q_stride[1] + t * p->q_stride[2];
    row.mask = p->mask == NULL ? NULL
                               : p->mask + b * p->mask_stride[0] + h * p->mask_stride[1] + t * p->mask_stride[2];
    row.visible = horizon < 0 ? 0 : horizon > S ? S : horizon;
    row.drop_index = (uint64_t)((b * p->heads + h) * T + t) * (uint64_t)S;
    return row;
}

/// 1 / (1 − p) where dropout keeps the score at `index`, else 0; 1 without dropout.
static float drop_factor(const kb_attention_problem *p, uint64_t index)
{
    if (p->dropout == 0.0f)
        return 1.0f;
    return kb_attention_keep(p->seed, index, p->dropout) ? 1.0f / (1.0f - p->dropout) : 0.0f;
}

// ---- scalar reference ----

static float dot_scalar(const float *x, const float *y, long n)
{
    float sum = 0.0f;
    for (long i = 0; i < n; i++)
        sum += x[i] * y[i];
    return sum;
}

/// scores: (S), scale · (q · k[s]) + mask[s], −inf for keys after the causal horizon.
static void score_row(const kb_attention_problem *p, const pair_view *pair, const query_row *row, float *scores)
{
    for (long s = 0; s < p->keys; s++) {
        if (s >= row->visible) {
            scores[s] = -INFINITY;
            continue;
        }
        float score = p->scale * dot_scalar(row->q, pair->k + s * p->k_stride[2], p->width);
        if (row->mask != NULL)
            score += row->mask[s * p->mask_stride[3]];
        scores[s] = score;
    }
}

/// out: (D) and *lse of one row; scores: (S) scratch.
static void forward_row_scalar(const kb_attention_problem *p, const pair_view *pair, const query_row *row,
                               float *scores, float *out, float *lse)
{
    long S = p->keys, D = p->width;
    score_row(p, pair, row, scores);
    float max = -INFINITY;
    for (long s = 0; s < S; s++)
        if (scores[s] > max)
            max = scores[s];
    float shift = max == -INFINITY ? 0.0f : max, sum = 0.0f;
    for (long s = 0; s < S; s++) {
        scores[s] = expf(scores[s] - shift);
        sum += scores[s];
    }
    float inverse = sum == 0.0f ? 0.0f : 1.0f / sum;
    for (long d = 0; d < D; d++)
        out[d] = 0.0f;
    for (long s = 0; s < S; s++) {
        float weight = scores[s] * inverse * drop_factor(p, row->drop_index + s);
        const float *value = pair->v + s * p->v_stride[2];
        for (long d = 0; d < D; d++)
            out[d] += weight * value[d];
    }
    *lse = sum == 0.0f ? -INFINITY : shift + logf(sum);
}

int kb_attention_forward_scalar(const kb_attention_problem *p, float *out, float *lse, long pair_begin,
                                long pair_end)
{
    float *scores = reserve((size_t)p->keys);
    if (scores == NULL)
        return 0;
    for (long index = pair_begin; index < pair_end; index++) {
        pair_view pair = view_pair(p, index);
        for (long head = 0; head < group_size(p); head++)
            for (long t = 0; t < p->queries; t++) {
                query_row row = locate_row(p, &pair, head, t);
                long n = index * pair.rows + head * p->queries + t;
                forward_row_scalar(p, &pair, &row, scores, out + n * p->width, lse + n);
            }
    }
    return 1;
}

/// Gradients of one row: writes dq (D), adds into dk, dv (S, D) of the pair; scores: (S) scratch.
static void backward_row_scalar(const kb_attention_problem *p, const pair_view *pair, const query_row *row,
                                float *scores, const float *out, float lse, const float *dout, float *dq, float *dk,
                                float *dv)
{
    long S = p->keys, D = p->width;
    for (long d = 0; d < D; d++)
        dq[d] = 0.0f;
    if (lse == -INFINITY)
        return;
    score_row(p, pair, row, scores);
    float out_dot = dot_scalar(dout, out, D);
    for (long s = 0; s < S; s++) {
        const float *key = pair->k + s * p->k_stride[2], *value = pair->v + s * p->v_stride[2];
        float prob = expf(scores[s] - lse), drop = drop_factor(p, row->drop_index + s);
        float dscore = p->scale * prob * (drop * dot_scalar(dout, value, D) - out_dot);
        float *dk_s = dk + s * D, *dv_s = dv + s * D;
        for (long d = 0; d < D; d++) {
            dv_s[d] += prob * drop * dout[d];
            dk_s[d] += dscore * row->q[d];
            dq[d] += dscore * key[d];
        }
    }
}

int kb_attention_backward_scalar(const kb_attention_problem *p, const float *out, const float *lse,
                                 const float *dout, float *dq, float *dk, float *dv, long pair_begin,
                                 long pair_end)
{
    float *scores = reserve((size_t)p->keys);
    if (scores == NULL)
        return 0;
    long S = p->keys, D = p->width;
    for (long index = pair_begin; index < pair_end; index++) {
        pair_view pair = view_pair(p, index);
        float *dk_pair = dk + index * S * D, *dv_pair = dv + index * S * D;
        memset(dk_pair, 0, (size_t)(S * D) * sizeof(float));
        memset(dv_pair, 0, (size_t)(S * D) * sizeof(float));
        for (long head = 0; head < group_size(p); head++)
            for (long t = 0; t < p->queries; t++) {
                query_row row = locate_row(p, &pair, head, t);
                long n = index * pair.rows + head * p->queries + t;
                backward_row_scalar(p, &pair, &row, scores, out + n * D, lse[n], dout + n * D, dq + n * D, dk_pair,
                                    dv_pair);
            }
    }
    return 1;
}

// ---- AVX-512 ----

#if defined(__x86_64__)
#include "vecmath.h"

#define KB_INLINE static inline __attribute__((always_inline))
#define KB_UNROLL _Pragma("GCC unroll 16")

/// ROWS query rows per micro-block (scores in registers), KEYS keys per tile, BLOCK rows per block.
enum { ROWS = 4, KEYS = 64, KEY_VECTORS = KEYS / 16, BLOCK = 32 };

/// D rounded up to a multiple of 16.
static long padded_width(long width)
{
    return (width + 15) / 16 * 16;
}

/// Floats of the packed transposed keys (or values) of one pair: whole tiles of KEYS keys.
static size_t packed_size(const kb_attention_problem *p)
{
    return (size_t)((p->keys + KEYS - 1) / KEYS * KEYS * p->width);
}

/// The dropout rule in the form the vector test uses: kept when (z >> 40) ≥ threshold = ceil(p · 2^24).
typedef struct {
    int active;
    uint64_t seed, threshold;
    float factor;  // 1 / (1 − p)
} dropout_rule;

static dropout_rule make_dropout_rule(const kb_attention_problem *p)
{
    dropout_rule rule = {p->dropout != 0.0f, p->seed, 0, 1.0f};
    if (rule.active) {
        rule.threshold = (uint64_t)ceil((double)p->dropout * (double)(1 << UNIFORM_BITS));
        rule.factor = 1.0f / (1.0f - p->dropout);
    }
    return rule;
}

/// SplitMix64's output mix of 8 states.
KB_INLINE KB_AVX512 __m512i splitmix_mix(__m512i z)
{
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)), _mm512_set1_epi64((long long)MIX_1));
    z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)), _mm512_set1_epi64((long long)MIX_2));
    return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

/// Dropout factors of the 16 indices first .. first + 15: rule.factor where kept, 0 where dropped.
KB_INLINE KB_AVX512 __m512 drop_factors(const dropout_rule *rule, uint64_t first)
{
    __m512i gamma = _mm512_set1_epi64((long long)GOLDEN_GAMMA);
    __m512i step = _mm512_mullo_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0), gamma);
    __m512i low = _mm512_add_epi64(_mm512_set1_epi64((long long)(rule->seed + (first + 1) * GOLDEN_GAMMA)), step);
    __m512i high = _mm512_add_epi64(low, _mm512_slli_epi64(gamma, 3));
    __m512i threshold = _mm512_set1_epi64((long long)rule->threshold);
    int shift = 64 - UNIFORM_BITS;
    __mmask8 kept_low = _mm512_cmpge_epu64_mask(_mm512_srli_epi64(splitmix_mix(low), shift), threshold);
    __mmask8 kept_high = _mm512_cmpge_epu64_mask(_mm512_srli_epi64(splitmix_mix(high), shift), threshold);
    __mmask16 kept = (__mmask16)((unsigned)kept_low | (unsigned)kept_high << 8);
    return _mm512_maskz_mov_ps(kept, _mm512_set1_ps(rule->factor));
}

/// Transposes 16 × 16 floats in registers: on return r[i] lane j holds what r[j] lane i held.
KB_INLINE KB_AVX512 void transpose16(__m512 r[16])
{
    __m512 t[16];
    KB_UNROLL for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    KB_UNROLL for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    // r[4i + c] now holds, in 128-bit block k, column 4k + c of rows 4i .. 4i + 3.
    KB_UNROLL for (int c = 0; c < 4; c++) {
        t[c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
        t[4 + c] = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xDD);
        t[8 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
        t[12 + c] = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xDD);
    }
    KB_UNROLL for (int c = 0; c < 4; c++) {
        r[c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0x88);
        r[8 + c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0xDD);
        r[4 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(t[4 + c], t[12 + c], 0xDD);
    }
}

/// Packs keys [0, S) of a (S, D) operand with row stride `stride` as tiles of KEYS keys:
/// out[(i·D + d)·KEYS + j] = x[(i·KEYS + j)·stride + d], 0 for keys past S. Works on 16 × 16 squares.
KB_AVX512 static void pack_transposed(const float *x, long stride, long S, long D, float *out)
{
    for (long j = 0; j < S; j += 16)
        for (long d = 0; d < D; d += 16) {
            __m512 r[16];
            KB_UNROLL for (int i = 0; i < 16; i++)
                r[i] = j + i < S ? _mm512_maskz_loadu_ps(kb_lanes16(D - d), x + (j + i) * stride + d) : _mm512_setzero_ps();
            transpose16(r);
            float *tile = out + j / KEYS * KEYS * D + j % KEYS;
            for (long i = 0; i < 16 && d + i < D; i++)
                _mm512_storeu_ps(tile + (d + i) * KEYS, r[i]);
        }
    long tail = (S + 15) / 16 * 16;
    if (tail % KEYS != 0)
        for (long d = 0; d < D; d++)
            memset(out + tail / KEYS * KEYS * D + d * KEYS + tail % KEYS, 0,
                   (size_t)(KEYS - tail % KEYS) * sizeof(float));
}

/// dst: (Dp) = factor · src: (D) followed by zeros.
KB_INLINE KB_AVX512 void copy_padded(float *dst, const float *src, long D, float factor)
{
    for (long e = 0; e < D; e += 16)
        _mm512_storeu_ps(dst + e, _mm512_mul_ps(_mm512_maskz_loadu_ps(kb_lanes16(D - e), src + e), _mm512_set1_ps(factor)));
}

/// x · y over (D).
KB_INLINE KB_AVX512 float dot_vector(const float *x, const float *y, long D)
{
    __m512 sum = _mm512_setzero_ps();
    for (long e = 0; e < D; e += 16) {
        __mmask16 m = kb_lanes16(D - e);
        sum = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + e), _mm512_maskz_loadu_ps(m, y + e), sum);
    }
    return _mm512_reduce_add_ps(sum);
}

/// A block of query rows of one pair.
typedef struct {
    long count;               // rows in the block, ≤ BLOCK
    long visible;             // most keys any row of the block sees
    query_row rows[BLOCK];    // rows past count: no mask, nothing visible
    float *q;                 // (BLOCK, Dp) queries times scale, zero padded
} row_block;

/// Rows [first, first + BLOCK) of a pair (fewer at its end), their queries times scale packed into q: (BLOCK, Dp).
KB_AVX512 static void load_block(const kb_attention_problem *p, const pair_view *pair, long first, float *q,
                                 row_block *block)
{
    long D = p->width, Dp = padded_width(D), head = first / p->queries, t = first % p->queries;
    block->count = pair->rows - first < BLOCK ? pair->rows - first : BLOCK;
    block->q = q;
    for (long r = 0; r < BLOCK; r++) {
        if (r < block->count) {
            block->rows[r] = locate_row(p, pair, head, t);
            copy_padded(q + r * Dp, block->rows[r].q, D, p->scale);
            if (++t == p->queries) {
                t = 0;
                head++;
            }
        } else {
            block->rows[r] = (query_row){NULL, NULL, 0, 0};
            memset(q + r * Dp, 0, (size_t)Dp * sizeof(float));
        }
    }
}

/// The most keys any row of the block sees.
static long block_visible(const row_block *block)
{
    long visible = 0;
    for (long r = 0; r < block->count; r++)
        if (block->rows[r].visible > visible)
            visible = block->rows[r].visible;
    return visible;
}

/// dot[r][v] lane i = Σ_d a[r·lda + d] · tile[d·KEYS + 16v + i] for ROWS rows of a against one packed tile.
KB_INLINE KB_AVX512 void tile_dots(const float *a, long lda, const float *tile, long D, __m512 dot[ROWS][KEY_VECTORS])
{
    KB_UNROLL for (int r = 0; r < ROWS; r++)
        KB_UNROLL for (int v = 0; v < KEY_VECTORS; v++)
            dot[r][v] = _mm512_setzero_ps();
    for (long d = 0; d < D; d++) {
        __m512 keys[KEY_VECTORS];
        KB_UNROLL for (int v = 0; v < KEY_VECTORS; v++)
            keys[v] = _mm512_loadu_ps(tile + d * KEYS + 16 * v);
        KB_UNROLL for (int r = 0; r < ROWS; r++) {
            __m512 element = _mm512_set1_ps(a[r * lda + d]);
            KB_UNROLL for (int v = 0; v < KEY_VECTORS; v++)
                dot[r][v] = _mm512_fmadd_ps(element, keys[v], dot[r][v]);
        }
    }
}

/// mask[(j + i)·stride] in the lanes of `seen`, 0 elsewhere.
KB_INLINE KB_AVX512 __m512 mask_vector(const float *mask, long stride, long j, __mmask16 seen)
{
    if (stride == 1)
        return _mm512_maskz_loadu_ps(seen, mask + j);
    if (stride == 0)
        return _mm512_maskz_mov_ps(seen, _mm512_set1_ps(*mask));
    float gathered[16] = {0};
    for (int i = 0; i < 16; i++)
        if (seen >> i & 1)
            gathered[i] = mask[(j + i) * stride];
    return _mm512_loadu_ps(gathered);
}

/// Scores of keys j .. j + 15 of one row from their dot products with the scaled query: dot + mask, −inf where
/// not visible.
KB_INLINE KB_AVX512 __m512 finish_scores(const kb_attention_problem *p, const query_row *row, long j, __m512 dot)
{
    __mmask16 seen = kb_lanes16(row->visible - j);
    __m512 score = dot;
    if (row->mask != NULL)
        score = _mm512_add_ps(score, mask_vector(row->mask, p->mask_stride[3], j, seen));
    return _mm512_mask_blend_ps(seen, _mm512_set1_ps(-INFINITY), score);
}

/// One register tile of add_product: `rows` rows of C, `vectors` vectors of 16 columns (the last holding
/// `width` − 16·(vectors − 1) columns).
KB_INLINE KB_AVX512 void product_tile(float *c, long ldc, const float *a, long a_row, long a_col, const float *b,
                                      long ldb, long k, long width, const int rows, const int vectors)
{
    __m512 acc[8][4];
    __mmask16 last = kb_lanes16(width - 16 * (vectors - 1));
    KB_UNROLL for (int i = 0; i < rows; i++)
        KB_UNROLL for (int v = 0; v < vectors; v++)
            acc[i][v] = _mm512_setzero_ps();
    for (long l = 0; l < k; l++) {
        __m512 bv[4];
        KB_UNROLL for (int v = 0; v < vectors; v++)
            bv[v] = _mm512_maskz_loadu_ps(v == vectors - 1 ? last : (__mmask16)0xFFFF, b + l * ldb + 16 * v);
        KB_UNROLL for (int i = 0; i < rows; i++) {
            __m512 element = _mm512_set1_ps(a[i * a_row + l * a_col]);
            KB_UNROLL for (int v = 0; v < vectors; v++)
                acc[i][v] = _mm512_fmadd_ps(element, bv[v], acc[i][v]);
        }
    }
    KB_UNROLL for (int i = 0; i < rows; i++)
        KB_UNROLL for (int v = 0; v < vectors; v++) {
            __mmask16 m = v == vectors - 1 ? last : (__mmask16)0xFFFF;
            float *out = c + i * ldc + 16 * v;
            _mm512_mask_storeu_ps(out, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, out), acc[i][v]));
        }
}

/// add_product over one chunk of columns: tiles of `tile` rows, then single rows.
KB_INLINE KB_AVX512 void product_rows(float *c, long ldc, const float *a, long a_row, long a_col, const float *b,
                                      long ldb, long m, long k, long width, const int tile, const int vectors)
{
    long i = 0;
    for (; i + tile <= m; i += tile)
        product_tile(c + i * ldc, ldc, a + i * a_row, a_row, a_col, b, ldb, k, width, tile, vectors);
    for (; i < m; i++)
        product_tile(c + i * ldc, ldc, a + i * a_row, a_row, a_col, b, ldb, k, width, 1, vectors);
}

/// c[i·ldc + e] += Σ_l a[i·a_row + l·a_col] · b[l·ldb + e] for i < m, l < k, e < D, that is
/// C (m, D) += A (m, k) · B (k, D) with A read through any two strides. Columns go in chunks of up to 64.
KB_AVX512 static void add_product(float *c, long ldc, const float *a, long a_row, long a_col, const float *b,
                                  long ldb, long m, long k, long D)
{
    for (long e = 0; e < D; e += 64) {
        long width = D - e < 64 ? D - e : 64;
        switch ((width + 15) / 16) {
        case 1: product_rows(c + e, ldc, a, a_row, a_col, b + e, ldb, m, k, width, 8, 1); break;
        case 2: product_rows(c + e, ldc, a, a_row, a_col, b + e, ldb, m, k, width, 8, 2); break;
        case 3: product_rows(c + e, ldc, a, a_row, a_col, b + e, ldb, m, k, width, 4, 3); break;
        default: product_rows(c + e, ldc, a, a_row, a_col, b + e, ldb, m, k, width, 4, 4); break;
        }
    }
}

// ---- AVX-512 forward ----

/// Scratch of the forward pass, carved from the thread's buffer.
typedef struct {
    float *keys;  // packed transposed keys of the pair: (⌈S / KEYS⌉, D, KEYS)
    float *q;     // (BLOCK, Dp) queries of the block times scale
    float *acc;   // (BLOCK, Dp) Σ prob · V, relative to the running max
    float *prob;  // (BLOCK, KEYS) exp(score − running max) · drop of the tile
} forward_scratch;

/// Online-softmax state of the rows of a block.
typedef struct {
    float max[BLOCK];      // largest score seen (NaN ignored), −inf before any
    float sum[BLOCK][16];  // Σ exp(score − max) per lane
    float rescale[BLOCK];  // exp(previous max − max) of the last tile, for acc
} running_softmax;

/// Scores of micro-block rows [r0, r0 + ROWS) against the key tile at j0: updates the running max, sum and
/// rescale factor of each row and writes its prob row.
KB_AVX512 static void forward_micro(const kb_attention_problem *p, const dropout_rule *rule, const row_block *block,
                                    long r0, long j0, const float *tile, float *prob, running_softmax *state)
{
    long Dp = padded_width(p->width);
    __m512 dot[ROWS][KEY_VECTORS], tile_sum[ROWS];
    float previous[16] = {0}, shift[16] = {0}, rescale[16];
    tile_dots(block->q + r0 * Dp, Dp, tile, p->width, dot);
    KB_UNROLL for (int r = 0; r < ROWS; r++) {
        const query_row *row = &block->rows[r0 + r];
        __m512 score[KEY_VECTORS], top = _mm512_set1_ps(-INFINITY);
        KB_UNROLL for (int v = 0; v < KEY_VECTORS; v++) {
            score[v] = finish_scores(p, row, j0 + 16 * v, dot[r][v]);
            top = _mm512_max_ps(score[v], top);
        }
        float tile_max = _mm512_reduce_max_ps(top), max = state->max[r0 + r];
        previous[r] = max;
        if (tile_max > max)
            max = tile_max;
        state->max[r0 + r] = max;
        shift[r] = max == -INFINITY ? 0.0f : max;
        tile_sum[r] = _mm512_setzero_ps();
        KB_UNROLL for (int v = 0; v < KEY_VECTORS; v++) {
            __m512 e = v16_exp(_mm512_sub_ps(score[v], _mm512_set1_ps(shift[r])));
            tile_sum[r] = _mm512_add_ps(tile_sum[r], e);
            if (rule->active)
                e = _mm512_mul_ps(e, drop_factors(rule, row->drop_index + (uint64_t)(j0 + 16 * v)));
            _mm512_storeu_ps(prob + (r0 + r) * KEYS + 16 * v, e);
        }
    }
    _mm512_storeu_ps(rescale, v16_exp(_mm512_sub_ps(_mm512_loadu_ps(previous), _mm512_loadu_ps(shift))));
    KB_UNROLL for (int r = 0; r < ROWS; r++) {
        float *sum = state->sum[r0 + r];
        _mm512_storeu_ps(sum, _mm512_fmadd_ps(_mm512_loadu_ps(sum), _mm512_set1_ps(rescale[r]), tile_sum[r]));
        state->rescale[r0 + r] = rescale[r];
    }
}

/// x[r·Dp + e] *= factor[r] for r < rows, e < Dp.
KB_AVX512 static void scale_rows(float *x, long Dp, const float *factor, long rows)
{
    for (long r = 0; r < rows; r++)
        for (long e = 0; e < Dp; e += 16)
            _mm512_storeu_ps(x + r * Dp + e,
                             _mm512_mul_ps(_mm512_loadu_ps(x + r * Dp + e), _mm512_set1_ps(factor[r])));
}

/// out: (count, D) = acc / sum per row (0 when the sum is 0) and lse: (count) = shift + log(sum) (−inf then).
KB_AVX512 static void finish_forward(const running_softmax *state, const float *acc, long count, long D, float *out,
                                     float *lse)
{
    long Dp = padded_width(D);
    for (long r = 0; r < count; r++) {
        float sum = _mm512_reduce_add_ps(_mm512_loadu_ps(state->sum[r]));
        float shift = state->max[r] == -INFINITY ? 0.0f : state->max[r];
        __m512 inverse = _mm512_set1_ps(sum == 0.0f ? 0.0f : 1.0f / sum);
        for (long e = 0; e < D; e += 16)
            _mm512_mask_storeu_ps(out + r * D + e, kb_lanes16(D - e),
                                  _mm512_mul_ps(_mm512_loadu_ps(acc + r * Dp + e), inverse));
        lse[r] = sum == 0.0f ? -INFINITY : shift + logf(sum);
    }
}

/// Forward pass of rows [first, first + BLOCK) of a pair; out: (count, D) and lse: (count) of those rows.
KB_AVX512 static void forward_block(const kb_attention_problem *p, const dropout_rule *rule, const pair_view *pair,
                                    long first, const forward_scratch *scratch, float *out, float *lse)
{
    long D = p->width, Dp = padded_width(D);
    row_block block;
    running_softmax state;
    load_block(p, pair, first, scratch->q, &block);
    block.visible = block_visible(&block);
    for (long r = 0; r < BLOCK; r++) {
        state.max[r] = -INFINITY;
        memset(state.sum[r], 0, sizeof state.sum[r]);
    }
    memset(scratch->acc, 0, (size_t)(block.count * Dp) * sizeof(float));
    for (long j0 = 0; j0 < block.visible; j0 += KEYS) {
        for (long r0 = 0; r0 < block.count; r0 += ROWS)
            forward_micro(p, rule, &block, r0, j0, scratch->keys + j0 * D, scratch->prob, &state);
        scale_rows(scratch->acc, Dp, state.rescale, block.count);
        long keys = block.visible - j0 < KEYS ? block.visible - j0 : KEYS;
        add_product(scratch->acc, Dp, scratch->prob, KEYS, 1, pair->v + j0 * p->v_stride[2], p->v_stride[2],
                    block.count, keys, D);
    }
    finish_forward(&state, scratch->acc, block.count, D, out, lse);
}

KB_AVX512 int kb_attention_forward_avx512(const kb_attention_problem *p, float *out, float *lse, long pair_begin,
                                          long pair_end)
{
    long D = p->width, Dp = padded_width(D);
    size_t packed = packed_size(p);
    float *buffer = reserve(packed + (size_t)(2 * BLOCK * Dp + BLOCK * KEYS));
    if (buffer == NULL)
        return 0;
    float *blocks = buffer + packed;
    forward_scratch scratch = {buffer, blocks, blocks + BLOCK * Dp, blocks + 2 * BLOCK * Dp};
    dropout_rule rule = make_dropout_rule(p);
    for (long index = pair_begin; index < pair_end; index++) {
        pair_view pair = view_pair(p, index);
        pack_transposed(pair.k, p->k_stride[2], p->keys, D, scratch.keys);
        for (long first = 0; first < pair.rows; first += BLOCK) {
            long row = index * pair.rows + first;
            forward_block(p, &rule, &pair, first, &scratch, out + row * D, lse + row);
        }
    }
    return 1;
}

// ---- AVX-512 backward ----

/// Scratch of the backward pass, carved from the thread's buffer.
typedef struct {
    float *keys, *values;  // packed transposed keys and values of the pair: (⌈S / KEYS⌉, D, KEYS)
    float *q, *dout, *dq;  // (BLOCK, Dp) queries times scale, output gradients and Σ dscore · K of the block
    float *prob;           // (BLOCK, KEYS) exp(score − lse) · drop of the tile
    float *dscore;         // (BLOCK, KEYS) ∂loss/∂score of the tile
} backward_scratch;

/// Per-row terms of the backward pass of a block.
typedef struct {
    float shift[BLOCK];    // lse, or 0 for a row with every key dropped
    float out_dot[BLOCK];  // dout · out
} row_terms;

/// prob and dscore rows [r0, r0 + ROWS) of the key tile at j0 (tiles: packed keys and values of the tile).
KB_AVX512 static void backward_micro(const kb_attention_problem *p, const dropout_rule *rule, const row_block *block,
                                     const row_terms *terms, long r0, long j0, const float *key_tile,
                                     const float *value_tile, const backward_scratch *scratch)
{
    long Dp = padded_width(p->width);
    __m512 dot[ROWS][KEY_VECTORS];
    tile_dots(block->q + r0 * Dp, Dp, key_tile, p->width, dot);
    KB_UNROLL for (int r = 0; r < ROWS; r++) {
        __m512 shift = _mm512_set1_ps(terms->shift[r0 + r]);
        KB_UNROLL for (int v = 0; v < KEY_VECTORS; v++) {
            __m512 score = finish_scores(p, &block->rows[r0 + r], j0 + 16 * v, dot[r][v]);
            _mm512_storeu_ps(scratch->prob + (r0 + r) * KEYS + 16 * v, v16_exp(_mm512_sub_ps(score, shift)));
        }
    }
    tile_dots(scratch->dout + r0 * Dp, Dp, value_tile, p->width, dot);
    KB_UNROLL for (int r = 0; r < ROWS; r++) {
        __m512 out_dot = _mm512_set1_ps(terms->out_dot[r0 + r]);
        KB_UNROLL for (int v = 0; v < KEY_VECTORS; v++) {
            float *prob = scratch->prob + (r0 + r) * KEYS + 16 * v;
            __m512 pv = _mm512_loadu_ps(prob), dprob = dot[r][v];
            if (rule->active) {
                __m512 drop = drop_factors(rule, block->rows[r0 + r].drop_index + (uint64_t)(j0 + 16 * v));
                dprob = _mm512_mul_ps(dprob, drop);
                _mm512_storeu_ps(prob, _mm512_mul_ps(pv, drop));
            }
            __m512 dscore = _mm512_mul_ps(pv, _mm512_sub_ps(dprob, out_dot));
            _mm512_storeu_ps(scratch->dscore + (r0 + r) * KEYS + 16 * v, dscore);
        }
    }
}

/// Output gradients of the block packed into scratch->dout, and each row's shift and dout · out; rows whose keys
/// are all dropped (lse = −inf) are marked as seeing no key.
KB_AVX512 static void load_gradients(long D, const float *out, const float *lse, const float *dout, float *packed,
                                     row_block *block, row_terms *terms)
{
    long Dp = padded_width(D);
    for (long r = 0; r < BLOCK; r++) {
        terms->shift[r] = 0.0f;
        terms->out_dot[r] = 0.0f;
        if (r >= block->count) {
            memset(packed + r * Dp, 0, (size_t)Dp * sizeof(float));
            continue;
        }
        copy_padded(packed + r * Dp, dout + r * D, D, 1.0f);
        terms->out_dot[r] = dot_vector(dout + r * D, out + r * D, D);
        if (lse[r] == -INFINITY)
            block->rows[r].visible = 0;
        else
            terms->shift[r] = lse[r];
    }
}

/// Backward pass of rows [first, first + BLOCK) of a pair: out, lse, dout, dq are those rows'; dk, dv: (S, D) of
/// the pair, accumulated into.
KB_AVX512 static void backward_block(const kb_attention_problem *p, const dropout_rule *rule, const pair_view *pair,
                                     long first, const backward_scratch *scratch, const float *out, const float *lse,
                                     const float *dout, float *dq, float *dk, float *dv)
{
    long D = p->width, Dp = padded_width(D);
    row_block block;
    row_terms terms;
    load_block(p, pair, first, scratch->q, &block);
    load_gradients(D, out, lse, dout, scratch->dout, &block, &terms);
    block.visible = block_visible(&block);
    memset(scratch->dq, 0, (size_t)(block.count * Dp) * sizeof(float));
    for (long j0 = 0; j0 < block.visible; j0 += KEYS) {
        for (long r0 = 0; r0 < block.count; r0 += ROWS)
            backward_micro(p, rule, &block, &terms, r0, j0, scratch->keys + j0 * D, scratch->values + j0 * D,
                           scratch);
        long keys = block.visible - j0 < KEYS ? block.visible - j0 : KEYS, count = block.count;
        add_product(dv + j0 * D, D, scratch->prob, 1, KEYS, scratch->dout, Dp, keys, count, D);
        add_product(dk + j0 * D, D, scratch->dscore, 1, KEYS, scratch->q, Dp, keys, count, D);
        add_product(scratch->dq, Dp, scratch->dscore, KEYS, 1, pair->k + j0 * p->k_stride[2], p->k_stride[2], count,
                    keys, D);
    }
    __m512 scale = _mm512_set1_ps(p->scale);
    for (long r = 0; r < block.count; r++)
        for (long e = 0; e < D; e += 16)
            _mm512_mask_storeu_ps(dq + r * D + e, kb_lanes16(D - e),
                                  _mm512_mul_ps(_mm512_loadu_ps(scratch->dq + r * Dp + e), scale));
}

KB_AVX512 int kb_attention_backward_avx512(const kb_attention_problem *p, const float *out, const float *lse,
                                           const float *dout, float *dq, float *dk, float *dv, long pair_begin,
                                           long pair_end)
{
    long S = p->keys, D = p->width, Dp = padded_width(D);
    size_t packed = packed_size(p);
    float *buffer = reserve(2 * packed + (size_t)(3 * BLOCK * Dp + 2 * BLOCK * KEYS));
    if (buffer == NULL)
        return 0;
    float *blocks = buffer + 2 * packed;
    backward_scratch scratch = {buffer,
                                buffer + packed,
                                blocks,
                                blocks + BLOCK * Dp,
                                blocks + 2 * BLOCK * Dp,
                                blocks + 3 * BLOCK * Dp,
                                blocks + 3 * BLOCK * Dp + BLOCK * KEYS};
    dropout_rule rule = make_dropout_rule(p);
    for (long index = pair_begin; index < pair_end; index++) {
        pair_view pair = view_pair(p, index);
        float *dk_pair = dk + index * S * D, *dv_pair = dv + index * S * D;
        pack_transposed(pair.k, p->k_stride[2], S, D, scratch.keys);
        pack_transposed(pair.v, p->v_stride[2], S, D, scratch.values);
        memset(dk_pair, 0, (size_t)(S * D) * sizeof(float));
        memset(dv_pair, 0, (size_t)(S * D) * sizeof(float));
        for (long first = 0; first < pair.rows; first += BLOCK) {
            long row = index * pair.rows + first;
            backward_block(p, &rule, &pair, first, &scratch, out + row * D, lse + row, dout + row * D, dq + row * D,
                           dk_pair, dv_pair);
        }
    }
    return 1;
}
#endif

// ---- dispatch ----

int kb_attention_forward(const kb_attention_problem *p, float *out, float *lse, long pair_begin, long pair_end)
{
#if defined(__x86_64__)
    if (kb_active_path() == KB_PATH_AVX512)
        return kb_attention_forward_avx512(p, out, lse, pair_begin, pair_end);
#endif
    return kb_attention_forward_scalar(p, out, lse, pair_begin, pair_end);
}

int kb_attention_backward(const kb_attention_problem *p, const float *out, const float *lse, const float *dout,
                          float *dq, float *dk, float *dv, long pair_begin, long pair_end)
{
#if defined(__x86_64__)
    if (kb_active_path() == KB_PATH_AVX512)
        return kb_attention_backward_avx512(p, out, lse, dout, dq, dk, dv, pair_begin, pair_end);
#endif
    return kb_attention_backward_scalar(p, out, lse, dout, dq, dk, dv, pair_begin, pair_end);
}
