// bf16 GEMM with float32 operands and result, C = α·op(A)·op(B) + β·C: the elements of op(A) and op(B) are rounded to
// bf16 and their products accumulated in float32, as VDPBF16PS does. A readable reference that emulates the
// instruction and an AVX-512 BF16 path with packed operands and a 12 × 32 register tile.
//
// Legend: m rows of C and op(A), n columns of C and op(B), k the inner dimension; op(A): (m, k), op(B): (k, n).
// i a row, j a column, p an index along k, t = p / 2 a pair of k indices; a line is a row of op(A) or a column of
// op(B). A stored as is has op(A)[i, p] = a[i·lda + p]; transposed (A stored (k, m)), op(A)[i, p] = a[p·lda + i].
// Likewise B: op(B)[p, j] = b[p·ldb + j], or b[j·ldb + p] transposed. A word is 32 bits holding two bf16 values of
// one line: element 2t in the low half, 2t + 1 in the high half.
//
// Summation order (kiban_bf16.h): k blocks of kb_sgemm_bf16_block_length(k), kb_sgemm's block length rounded up to
// even, so that no pair crosses a block and the pairs are p = 2t, 2t + 1 counted from 0 (for odd k the last pair
// is completed by a zero). Within a block s = +0, then for each pair in increasing t, s = step(s, a[2t + 1]·b[2t + 1])
// and s = step(s, a[2t]·b[2t]), step being one add of the exact product, rounded to nearest even, with a tiny result
// flushed to a zero of its sign; the block's s meets C as in kb_sgemm. Measured on AMD Zen 5 (12.8 million random
// lanes, plus the flush boundary): VDPBF16PS does exactly this, the odd product first, tininess judged after rounding
// with unbounded exponent, subnormal accumulator inputs read as zero (never occurs here: s starts at +0 and every
// step flushes).
//
// AVX-512 path: op(A) is packed into panels of MR = 12 rows, op(B) into panels of 32 columns (16 for a last panel
// of 16 or fewer), both pair-major and zero-padded, each element rounded to bf16 by VCVTNE(2)PS2BF16 while packing:
// an A panel holds, for each pair t, MR words (one per row, broadcast by the kernel); a B panel holds, for each
// pair t, one word per column (16 columns per zmm). Operands contiguous along k (A as is, B transposed) are
// converted 16 floats (8 words) per line and transposed 8 × 8 in registers; operands contiguous along the other
// index are converted two k rows at a time and interleaved into words with a word permutation (for A four panels at
// once, so that whole k rows are read). Packing prefetches the source lines or rows it reads next. A tile keeps
// MR × 2 accumulators in zmm registers; each pair loads 2 B vectors and broadcasts MR A words. Loops: rows in blocks
// of MC (packed A of one k block), columns in blocks of NC (packed B, sized for L2), then A panels, then B panels.

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kiban_bf16.h"
#include "kiban_kernels.h"
#include "scratch.h"

long kb_sgemm_bf16_block_length(long k)
{
    long block = kb_sgemm_block_length(k);
    return block + (block & 1);
}

// ---- bf16 arithmetic, as the hardware does it ----

/// The bf16 bits of x as VCVTNEPS2BF16 forms them: zero and subnormals give a zero of x's sign, NaN keeps its top
/// bits with the quiet bit set, everything else rounds to nearest, ties to even (overflowing to ±inf).
static uint16_t bf16_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7F800000u) == 0)
        return (uint16_t)((u >> 16) & 0x8000u);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u)
        return (uint16_t)((u >> 16) | 0x0040u);
    return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

/// The float32 value of bf16 bits.
static float bf16_value(uint16_t bits)
{
    uint32_t u = (uint32_t)bits << 16;
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

float kb_bf16_round(float x)
{
    return bf16_value(bf16_bits(x));
}

/// Half of the float32 spacing just below FLT_MIN, subtracted from FLT_MIN: the least magnitude that rounds (with
/// unbounded exponent, ties to even) to FLT_MIN rather than to a tiny value.
#define NOT_TINY 0x1.ffffffp-127

/// One product step of VDPBF16PS: acc + a·b (a, b bf16 values, so the product is exact in double) rounded once to
/// float32, then flushed to a zero of its sign if tiny. fmaf rounds with gradual underflow, which agrees with
/// unbounded-exponent rounding except just below FLT_MIN: a result that fmaf makes ±FLT_MIN is tiny when the exact
/// sum lies under NOT_TINY. That sum, formed in double, may round, but never across NOT_TINY (which is a double).
static float product_step(float acc, float a, float b)
{
    float r = fmaf(a, b, acc);
    if (isnan(r) || fabsf(r) > FLT_MIN)
        return r;
    if (fabsf(r) == FLT_MIN && fabs((double)acc + (double)a * (double)b) >= NOT_TINY)
        return r;
    return copysignf(0.0f, r);
}

// ---- scalar reference ----

/// op(A)[i, p] rounded to bf16; 0 for p = k (the pad of an odd k).
static float op_a(int trans, const float *a, long lda, long k, long i, long p)
{
    if (p >= k)
        return 0.0f;
    return kb_bf16_round(trans ? a[p * lda + i] : a[i * lda + p]);
}

/// op(B)[p, j] rounded to bf16; 0 for p = k (the pad of an odd k).
static float op_b(int trans, const float *b, long ldb, long k, long p, long j)
{
    if (p >= k)
        return 0.0f;
    return kb_bf16_round(trans ? b[j * ldb + p] : b[p * ldb + j]);
}

void kb_sgemm_bf16_scalar(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                          const float *b, long ldb, float beta, float *c, long ldc, const kb_gemm_epilogue *epilogue)
{
    long block = kb_sgemm_bf16_block_length(k);
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            float *out = c + i * ldc + j;
            if (k <= 0) {
                *out = beta == 0.0f ? 0.0f : beta * *out;
                continue;
            }
            for (long p0 = 0; p0 < k; p0 += block) {
                long p1 = p0 + block < k ? p0 + block : k;
                float s = 0.0f;
                for (long p = p0; p < p1; p += 2) {
                    s = product_step(s, op_a(trans_a, a, lda, k, i, p + 1), op_b(trans_b, b, ldb, k, p + 1, j));
                    s = product_step(s, op_a(trans_a, a, lda, k, i, p), op_b(trans_b, b, ldb, k, p, j));
                }
                if (p0 > 0)
                    *out = fmaf(alpha, s, *out);
                else if (beta == 0.0f)
                    *out = alpha * s;
                else
                    *out = fmaf(beta, *out, alpha * s);
            }
        }
    kb_gemm_epilogue_apply(epilogue, 0, 0, m, n, c, ldc);
}

// ---- AVX-512 BF16 ----

#if defined(__x86_64__)
#include <immintrin.h>

#define KB_BF16 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512bf16,fma")))
#define KB_INLINE static inline __attribute__((always_inline))
#define KB_UNROLL _Pragma("GCC unroll 16")

/// MR rows per A panel and register tile; MC rows of packed A per block; NC columns of packed B per block.
enum { MR = 12, MC = 1536, NC = 512, PREFETCH = 16 };

static _Thread_local kb_scratch packed_a_buffer, packed_b_buffer;

/// In place, r[q] (word l) = r[l] (word q) for q, l < 8: an 8 × 8 transpose of words in AVX registers.
KB_INLINE KB_BF16 void transpose8(__m256i r[8])
{
    __m256i t[8], u[8];
    KB_UNROLL for (int l = 0; l < 8; l += 2) {
        t[l] = _mm256_unpacklo_epi32(r[l], r[l + 1]);
        t[l + 1] = _mm256_unpackhi_epi32(r[l], r[l + 1]);
    }
    KB_UNROLL for (int l = 0; l < 8; l += 4) {
        u[l] = _mm256_unpacklo_epi64(t[l], t[l + 2]);
        u[l + 1] = _mm256_unpackhi_epi64(t[l], t[l + 2]);
        u[l + 2] = _mm256_unpacklo_epi64(t[l + 1], t[l + 3]);
        u[l + 3] = _mm256_unpackhi_epi64(t[l + 1], t[l + 3]);
    }
    KB_UNROLL for (int q = 0; q < 4; q++) {
        r[q] = _mm256_permute2x128_si256(u[q], u[q + 4], 0x20);
        r[q + 4] = _mm256_permute2x128_si256(u[q], u[q + 4], 0x31);
    }
}

/// Packs lines [0, width) of a source whose lines are contiguous along k (line l at src + l·ld, elements p < kc):
/// out[t·width + l] = the word of elements 2t, 2t + 1 of line l, for t < ⌈kc / 2⌉; zero for l ≥ valid and for
/// p ≥ kc. Lines go 8 at a time: 16 floats (8 words) of each converted, then transposed; the next 8 lines are
/// prefetched meanwhile (a prefetch never faults, so lines past the end cost nothing but a fetch).
KB_INLINE KB_BF16 void pack_along_k(const float *src, long ld, long valid, long width, long kc, uint32_t *out)
{
    long pairs = (kc + 1) / 2;
    for (long l0 = 0; l0 < width; l0 += 8) {
        __mmask8 columns = kb_lanes8(width - l0);
        for (long t0 = 0; t0 < pairs; t0 += 8) {
            __mmask16 elements = kb_lanes16(kc - 2 * t0);
            __m256i r[8];
            KB_UNROLL for (int l = 0; l < 8; l++) {
                _mm_prefetch((const char *)(src + (l0 + 8 + l) * ld + 2 * t0), _MM_HINT_T0);
                __m512 x = l0 + l < valid ? _mm512_maskz_loadu_ps(elements, src + (l0 + l) * ld + 2 * t0)
                                          : _mm512_setzero_ps();
                r[l] = (__m256i)_mm512_cvtneps_pbh(x);
            }
            transpose8(r);
            KB_UNROLL for (int q = 0; q < 8; q++)
                if (t0 + q < pairs)
                    _mm256_mask_storeu_epi32(out + (t0 + q) * width + l0, columns, r[q]);
        }
    }
}

/// The 16 words of pair t of lines [0, 16) of a source whose k rows are contiguous along the lines (element p of
/// line l at src[p·ld + l], p < kc): word l holds elements 2t and 2t + 1 of line l (0 for p ≥ kc), or 0 for
/// l ≥ live. Two k rows are converted into one vector and interleaved into words; the k rows PREFETCH ahead are
/// prefetched (never faulting, also past the end).
KB_INLINE KB_BF16 __m512i pair_words(const float *src, long ld, long t, long kc, long live)
{
    const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7,
                                                22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    __mmask16 even = kb_lanes16(live), odd = 2 * t + 1 < kc ? even : 0;
    _mm_prefetch((const char *)(src + (2 * t + PREFETCH) * ld), _MM_HINT_T0);
    _mm_prefetch((const char *)(src + (2 * t + PREFETCH + 1) * ld), _MM_HINT_T0);
    __m512 x = _mm512_maskz_loadu_ps(even, src + 2 * t * ld);
    __m512 y = _mm512_maskz_loadu_ps(odd, src + (2 * t + 1) * ld);
    return _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(y, x));
}

/// Packs lines [0, width) of a source whose k rows are contiguous along the lines (element p of line l at
/// src[p·ld + l], p < kc): out[t·width + l] = the word of elements 2t, 2t + 1 of line l, for t < ⌈kc / 2⌉; zero for
/// l ≥ valid and for p ≥ kc.
KB_INLINE KB_BF16 void pack_across_k(const float *src, long ld, long valid, long width, long kc, uint32_t *out)
{
    for (long t = 0; t < (kc + 1) / 2; t++)
        for (long l0 = 0; l0 < width; l0 += 16) {
            __m512i words = pair_words(src + l0, ld, t, kc, valid - l0);
            _mm512_mask_storeu_epi32(out + t * width + l0, kb_lanes16(width - l0), words);
        }
}

/// pack_across_k of four full A panels at once (lines [0, 4·MR), panel g at out + g·stride), so that each k row is
/// read as three whole vectors: valignd splits each pair's 48 words into the panels' 12.
KB_INLINE KB_BF16 void pack_four_panels_across_k(const float *src, long ld, long kc, uint32_t *out, long stride)
{
    _Static_assert(MR == 12, "four panels of MR rows are three vectors");
    __mmask16 row = kb_lanes16(MR);
    for (long t = 0; t < (kc + 1) / 2; t++) {
        __m512i v0 = pair_words(src, ld, t, kc, 16), v1 = pair_words(src + 16, ld, t, kc, 16);
        __m512i v2 = pair_words(src + 32, ld, t, kc, 16);
        _mm512_mask_storeu_epi32(out + t * MR, row, v0);
        _mm512_mask_storeu_epi32(out + stride + t * MR, row, _mm512_alignr_epi32(v1, v0, 12));
        _mm512_mask_storeu_epi32(out + 2 * stride + t * MR, row, _mm512_alignr_epi32(v2, v1, 8));
        _mm512_mask_storeu_epi32(out + 3 * stride + t * MR, row, _mm512_alignr_epi32(v2, v2, 4));
    }
}

/// Packs op(A) rows [row0, row0 + rows), k range [p0, p0 + kc) into panels of MR rows: the panel of rows q ..
/// q + MR - 1 starts at out + q·⌈kc / 2⌉ and holds the word of op(A)[row0 + q + r, p0 + 2t .. p0 + 2t + 1] at
/// t·MR + r, zero for rows past the end.
KB_BF16 static void pack_a(int trans, const float *a, long lda, long row0, long rows, long p0, long kc, uint32_t *out)
{
    long pairs = (kc + 1) / 2, q = 0;
    if (trans)
        for (; q + 4 * MR <= rows; q += 4 * MR)
            pack_four_panels_across_k(a + p0 * lda + row0 + q, lda, kc, out + q * pairs, MR * pairs);
    for (; q < rows; q += MR) {
        long height = rows - q < MR ? rows - q : MR;
        if (trans)
            pack_across_k(a + p0 * lda + row0 + q, lda, height, MR, kc, out + q * pairs);
        else
            pack_along_k(a + (row0 + q) * lda + p0, lda, height, MR, kc, out + q * pairs);
    }
}

/// Width of the B panel that starts at column q of a block of `cols`: 32, or 16 for the last 16 or fewer columns.
static long panel_width(long q, long cols)
{
    return cols - q <= 16 ? 16 : 32;
}

/// Packs op(B) k range [p0, p0 + kc), columns [col0, col0 + cols) into panels of panel_width columns: the panel at
/// column q starts at out + q·⌈kc / 2⌉ and holds the word of op(B)[p0 + 2t .. p0 + 2t + 1, col0 + q + j] at
/// t·width + j, zero for columns past the end.
KB_BF16 static void pack_b(int trans, const float *b, long ldb, long p0, long kc, long col0, long cols, uint32_t *out)
{
    long pairs = (kc + 1) / 2;
    for (long q = 0, nr; q < cols; q += nr) {
        nr = panel_width(q, cols);
        long width = cols - q < nr ? cols - q : nr;
        if (trans)
            pack_along_k(b + (col0 + q) * ldb + p0, ldb, width, nr, kc, out + q * pairs);
        else
            pack_across_k(b + p0 * ldb + col0 + q, ldb, width, nr, kc, out + q * pairs);
    }
}

/// How a tile meets C: the first k block applies β (and skips reading C when β = 0); later blocks add.
typedef struct {
    float alpha, beta;
    int first_block;
} tile_update;

/// One MR × (16·vectors) tile: acc[r][v] = VDPBF16PS over the `pairs` words a[t·MR + r] and b[(t·vectors + v)·16
/// + lane], then C rows [0, rows) and columns [0, cols) updated as `update` says. C's rows are prefetched first, so
/// that the update does not wait for them (C is often too large for the caches).
KB_INLINE KB_BF16 void tile(const uint32_t *a, const uint32_t *b, long pairs, const int vectors, float *c, long ldc,
                            long rows, long cols, tile_update update)
{
    __m512 acc[MR][2];
    KB_UNROLL for (int r = 0; r < MR; r++)
        KB_UNROLL for (int v = 0; v < vectors; v++)
            acc[r][v] = _mm512_setzero_ps();
    KB_UNROLL for (int r = 0; r < MR; r++)
        if (r < rows)
            KB_UNROLL for (int v = 0; v < vectors; v++)
                _mm_prefetch((const char *)(c + r * ldc + v * 16), _MM_HINT_T0);
    for (long t = 0; t < pairs; t++) {
        __m512bh bv[2];
        KB_UNROLL for (int v = 0; v < vectors; v++)
            bv[v] = (__m512bh)_mm512_load_si512(b + (t * vectors + v) * 16);
        KB_UNROLL for (int r = 0; r < MR; r++) {
            __m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[t * MR + r]);
            KB_UNROLL for (int v = 0; v < vectors; v++)
                acc[r][v] = _mm512_dpbf16_ps(acc[r][v], ar, bv[v]);
        }
    }
    __m512 alpha = _mm512_set1_ps(update.alpha), beta = _mm512_set1_ps(update.beta);
    KB_UNROLL for (int r = 0; r < MR; r++) {
        if (r >= rows)
            break;
        KB_UNROLL for (int v = 0; v < vectors; v++) {
            float *out = c + r * ldc + v * 16;
            __mmask16 mask = kb_lanes16(cols - v * 16);
            __m512 result;
            if (!update.first_block)
                result = _mm512_fmadd_ps(alpha, acc[r][v], _mm512_maskz_loadu_ps(mask, out));
            else if (update.beta == 0.0f)
                result = _mm512_mul_ps(alpha, acc[r][v]);
            else
                result = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(mask, out), _mm512_mul_ps(alpha, acc[r][v]));
            _mm512_mask_storeu_ps(out, mask, result);
        }
    }
}

/// Every tile of a packed (rows × kc) A block against a packed (kc × cols) B block; then, where `epilogue` is given
/// (the last k block), the epilogue on each finished tile. c is C[row0, col0] of the call.
KB_BF16 static void block_product(const uint32_t *pa, const uint32_t *pb, long rows, long cols, long kc, float *c,
                                  long ldc, tile_update update, const kb_gemm_epilogue *epilogue, long row0, long col0)
{
    long pairs = (kc + 1) / 2;
    for (long i = 0; i < rows; i += MR) {
        const uint32_t *panel_a = pa + i * pairs;
        for (long j = 0, nr; j < cols; j += nr) {
            nr = panel_width(j, cols);
            const uint32_t *panel_b = pb + j * pairs;
            long tile_rows = rows - i, tile_cols = cols - j;
            if (nr == 32)
                tile(panel_a, panel_b, pairs, 2, c + i * ldc + j, ldc, tile_rows, tile_cols, update);
            else
                tile(panel_a, panel_b, pairs, 1, c + i * ldc + j, ldc, tile_rows, tile_cols, update);
            if (epilogue != NULL)
                kb_gemm_epilogue_apply(epilogue, row0 + i, col0 + j, tile_rows < MR ? tile_rows : MR,
                                       tile_cols < nr ? tile_cols : nr, c + i * ldc + j, ldc);
        }
    }
}

/// β applied to C alone (k = 0): C = β·C, or 0 when β = 0.
static void scale_c(long m, long n, float beta, float *c, long ldc)
{
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++)
            c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

KB_BF16 int kb_sgemm_bf16_avx512(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a,
                                 long lda, const float *b, long ldb, float beta, float *c, long ldc,
                                 const kb_gemm_epilogue *epilogue)
{
    if (m <= 0 || n <= 0)
        return 1;
    if (k <= 0) {
        scale_c(m, n, beta, c, ldc);
        kb_gemm_epilogue_apply(epilogue, 0, 0, m, n, c, ldc);
        return 1;
    }
    long block = kb_sgemm_bf16_block_length(k), pairs = block / 2;
    long mc_max = m < MC ? m : MC, nc_max = n < NC ? n : NC;
    uint32_t *pa = kb_scratch_reserve(&packed_a_buffer, (size_t)((mc_max + MR - 1) / MR * MR * pairs) * sizeof(uint32_t));
    uint32_t *pb = kb_scratch_reserve(&packed_b_buffer, (size_t)((nc_max + 31) / 32 * 32 * pairs) * sizeof(uint32_t));
    if (pa == NULL || pb == NULL)
        return 0;
    for (long i0 = 0; i0 < m; i0 += MC) {
        long rows = m - i0 < MC ? m - i0 : MC;
        for (long p0 = 0; p0 < k; p0 += block) {
            long kc = k - p0 < block ? k - p0 : block;
            tile_update update = {alpha, beta, p0 == 0};
            const kb_gemm_epilogue *last = p0 + kc == k ? epilogue : NULL;
            pack_a(trans_a, a, lda, i0, rows, p0, kc, pa);
            for (long j0 = 0; j0 < n; j0 += NC) {
                long cols = n - j0 < NC ? n - j0 : NC;
                pack_b(trans_b, b, ldb, p0, kc, j0, cols, pb);
                block_product(pa, pb, rows, cols, kc, c + i0 * ldc + j0, ldc, update, last, i0, j0);
            }
        }
    }
    return 1;
}
#endif

// ---- dispatch ----

int kb_bf16_gemm_supported(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    return kb_active_path() == KB_PATH_AVX512 && kb_path_supported(KB_PATH_AVX512) &&
           __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}

/// A GEMM with kb_sgemm_bf16's arguments and result.
typedef int (*gemm_fn)(int, int, long, long, long, float, const float *, long, const float *, long, float, float *,
                       long, const kb_gemm_epilogue *);

/// The fast path's GEMM where this CPU can run it, else NULL.
static gemm_fn fast_gemm(void)
{
#if defined(__x86_64__)
    if (kb_bf16_gemm_supported())
        return kb_sgemm_bf16_avx512;
#endif
    return NULL;
}

int kb_sgemm_bf16(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                  const float *b, long ldb, float beta, float *c, long ldc, const kb_gemm_epilogue *epilogue)
{
    gemm_fn gemm = fast_gemm();
    return gemm != NULL && gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epilogue);
}
