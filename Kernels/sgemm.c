// Single-precision GEMM, C = α·op(A)·op(B) + β·C on row-major matrices: a readable reference and an AVX-512 path
// with packed operands and a 12 × 32 register tile.
//
// Legend: m rows of C and op(A), n columns of C and op(B), k the inner dimension; op(A): (m, k), op(B): (k, n).
// i a row, j a column, p an index along k. A stored as is has op(A)[i, p] = a[i·lda + p]; transposed (A stored
// (k, m)), op(A)[i, p] = a[p·lda + i]. Likewise B: op(B)[p, j] = b[p·ldb + j], or b[j·ldb + p] transposed.
//
// Summation order, the same on both paths and for every m, n and thread split (so a row of C does not depend on
// which other rows are computed with it): k is cut into kb_sgemm_block_count(k) consecutive blocks of
// kb_sgemm_block_length(k) (the last may be shorter). For each block, s = Σ_p op(A)[i, p]·op(B)[p, j] is formed by
// fused multiply-adds in increasing p from 0; the first block stores c = α·s (β = 0: C is not read) or
// c = fma(β, c, α·s); each later block does c = fma(α, s, c).
//
// AVX-512 path: op(B) is packed into panels of NR = 32 columns (16 for a last panel of 16 or fewer), p-major, zero-padded; op(A) into
// panels of MR = 12 rows, p-major, zero-padded. A tile keeps MR × NR/16 accumulators in zmm registers; each step of
// p loads NR/16 vectors of B and broadcasts MR values of A. Loops: rows in blocks of MC (packed A of one k block,
// kept in cache), columns in blocks of NC (packed B, sized for L2), then A panels, then B panels.

#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "kiban_kernels.h"
#include "scratch.h"

/// Longest k block; blocks are balanced, so k = 400 gives two of 200, not 384 + 16.
enum { KC_MAX = 384 };

long kb_sgemm_block_count(long k)
{
    return k <= 0 ? 0 : (k + KC_MAX - 1) / KC_MAX;
}

long kb_sgemm_block_length(long k)
{
    long blocks = kb_sgemm_block_count(k);
    return blocks == 0 ? 0 : (k + blocks - 1) / blocks;
}

static float op_a(int trans, const float *a, long lda, long i, long p)
{
    return trans ? a[p * lda + i] : a[i * lda + p];
}

static float op_b(int trans, const float *b, long ldb, long p, long j)
{
    return trans ? b[j * ldb + p] : b[p * ldb + j];
}

// ---- scalar reference ----

void kb_sgemm_scalar(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                     const float *b, long ldb, float beta, float *c, long ldc, const kb_gemm_epilogue *epilogue)
{
    long block = kb_sgemm_block_length(k);
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            float *out = c + i * ldc + j;
            if (k == 0) {
                *out = beta == 0.0f ? 0.0f : beta * *out;
                continue;
            }
            for (long p0 = 0; p0 < k; p0 += block) {
                long p1 = p0 + block < k ? p0 + block : k;
                float s = 0.0f;
                for (long p = p0; p < p1; p++)
                    s = fmaf(op_a(trans_a, a, lda, i, p), op_b(trans_b, b, ldb, p, j), s);
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

// ---- AVX-512 ----

#if defined(__x86_64__)
#include <immintrin.h>

#define KB_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define KB_INLINE static inline __attribute__((always_inline))
#define KB_UNROLL _Pragma("GCC unroll 16")

/// MR rows per A panel and register tile; MC rows of packed A per block; NC columns of packed B per block.
enum { MR = 12, MC = 1536, NC = 256 };

static _Thread_local kb_scratch packed_a_buffer, packed_b_buffer;

/// dst[j·ldd + i] = src[i·ld + j] for i, j < 8: an 8 × 8 transpose in AVX registers.
KB_INLINE KB_AVX512 void transpose8(const float *src, long ld, float *dst, long ldd)
{
    __m256 r[8], t[8], s[8];
    KB_UNROLL for (int i = 0; i < 8; i++)
        r[i] = _mm256_loadu_ps(src + i * ld);
    KB_UNROLL for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    KB_UNROLL for (int i = 0; i < 8; i += 4) {
        s[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    KB_UNROLL for (int i = 0; i < 4; i++) {
        _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(s[i], s[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(s[i], s[i + 4], 0x31));
    }
}

/// dst[j·ldd + i] = src[i·ld + j] for i, j < 4: a 4 × 4 transpose in SSE registers.
KB_INLINE KB_AVX512 void transpose4(const float *src, long ld, float *dst, long ldd)
{
    __m128 r0 = _mm_loadu_ps(src), r1 = _mm_loadu_ps(src + ld), r2 = _mm_loadu_ps(src + 2 * ld);
    __m128 r3 = _mm_loadu_ps(src + 3 * ld);
    _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
    _mm_storeu_ps(dst, r0);
    _mm_storeu_ps(dst + ldd, r1);
    _mm_storeu_ps(dst + 2 * ldd, r2);
    _mm_storeu_ps(dst + 3 * ldd, r3);
}

/// dst[j·ldd + i] = src[i·ld + j] for i < rows, j < cols: a transpose of a (rows, cols) block, rows a multiple
/// of 4, by 8 × 8 and 4 × 4 tiles with a scalar edge.
KB_AVX512 static void transpose_block(const float *src, long ld, long rows, long cols, float *dst, long ldd)
{
    long i = 0;
    for (; i + 8 <= rows; i += 8) {
        long j = 0;
        for (; j + 8 <= cols; j += 8)
            transpose8(src + i * ld + j, ld, dst + j * ldd + i, ldd);
        for (; j < cols; j++)
            for (long r = i; r < i + 8; r++)
                dst[j * ldd + r] = src[r * ld + j];
    }
    for (; i + 4 <= rows; i += 4) {
        long j = 0;
        for (; j + 4 <= cols; j += 4)
            transpose4(src + i * ld + j, ld, dst + j * ldd + i, ldd);
        for (; j < cols; j++)
            for (long r = i; r < i + 4; r++)
                dst[j * ldd + r] = src[r * ld + j];
    }
}

/// dst[0, count) = src[0, count) for count ≤ 32, by masked vector moves (a libc call costs more at these lengths).
KB_INLINE KB_AVX512 void copy_short(float *dst, const float *src, long count)
{
    __mmask16 low = kb_lanes16(count), high = kb_lanes16(count - 16);
    _mm512_mask_storeu_ps(dst, low, _mm512_maskz_loadu_ps(low, src));
    if (high)
        _mm512_mask_storeu_ps(dst + 16, high, _mm512_maskz_loadu_ps(high, src + 16));
}

/// Packs op(A) rows [row0, row0 + rows), k range [p0, p0 + kc) into panels of MR rows: panel q holds
/// out[q·kc + p·MR + r] = op(A)[row0 + q + r, p0 + p] (q a multiple of MR), 0 for rows past the end.
KB_AVX512 static void pack_a(int trans, const float *a, long lda, long row0, long rows, long p0, long kc, float *out)
{
    for (long q = 0; q < rows; q += MR) {
        long height = rows - q < MR ? rows - q : MR;
        float *panel = out + q * kc;
        if (trans) {
            for (long p = 0; p < kc; p++)
                copy_short(panel + p * MR, a + (p0 + p) * lda + row0 + q, height);
        } else {
            const float *source = a + (row0 + q) * lda + p0;
            long whole = height / 4 * 4;
            transpose_block(source, lda, whole, kc, panel, MR);
            for (long r = whole; r < height; r++)
                for (long p = 0; p < kc; p++)
                    panel[p * MR + r] = source[r * lda + p];
        }
        if (height < MR)
            for (long p = 0; p < kc; p++)
                memset(panel + p * MR + height, 0, (size_t)(MR - height) * sizeof(float));
    }
}

/// Width of the B panel that starts at column q of a block of `cols`: 32, or 16 for the last 16 or fewer columns.
static long panel_width(long q, long cols)
{
    return cols - q <= 16 ? 16 : 32;
}

/// Packs op(B) k range [p0, p0 + kc), columns [col0, col0 + cols) into panels of panel_width columns: the panel
/// at column q holds out[q·kc + p·nr + j] = op(B)[p0 + p, col0 + q + j], 0 for columns past the end.
KB_AVX512 static void pack_b(int trans, const float *b, long ldb, long p0, long kc, long col0, long cols, float *out)
{
    for (long q = 0, nr; q < cols; q += nr) {
        nr = panel_width(q, cols);
        long width = cols - q < nr ? cols - q : nr;
        float *panel = out + q * kc;
        if (trans) {
            const float *source = b + (col0 + q) * ldb + p0;
            long whole = width / 4 * 4;
            transpose_block(source, ldb, whole, kc, panel, nr);
            for (long j = whole; j < width; j++)
                for (long p = 0; p < kc; p++)
                    panel[p * nr + j] = source[j * ldb + p];
        } else {
            for (long p = 0; p < kc; p++)
                copy_short(panel + p * nr, b + (p0 + p) * ldb + col0 + q, width);
        }
        if (width < nr)
            for (long p = 0; p < kc; p++)
                memset(panel + p * nr + width, 0, (size_t)(nr - width) * sizeof(float));
    }
}

/// How a tile meets C: the first k block applies β (and skips reading C when β = 0); later blocks add.
typedef struct {
    float alpha, beta;
    int first_block;
} tile_update;

/// One MR × (16·vectors) tile: acc = Σ_p a[p·MR + r]·b[p·16·vectors + j] over kc steps, then C rows
/// [0, rows) and columns [0, cols) updated as `update` says.
KB_INLINE KB_AVX512 void tile(const float *a, const float *b, long kc, const int vectors, float *c, long ldc,
                              long rows, long cols, tile_update update)
{
    __m512 acc[MR][2];
    KB_UNROLL for (int r = 0; r < MR; r++)
        KB_UNROLL for (int v = 0; v < vectors; v++)
            acc[r][v] = _mm512_setzero_ps();
    for (long p = 0; p < kc; p++) {
        __m512 bv[2];
        KB_UNROLL for (int v = 0; v < vectors; v++)
            bv[v] = _mm512_load_ps(b + (p * vectors + v) * 16);
        KB_UNROLL for (int r = 0; r < MR; r++) {
            __m512 ar = _mm512_set1_ps(a[p * MR + r]);
            KB_UNROLL for (int v = 0; v < vectors; v++)
                acc[r][v] = _mm512_fmadd_ps(ar, bv[v], acc[r][v]);
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
KB_AVX512 static void block_product(const float *pa, const float *pb, long rows, long cols, long kc, float *c, long ldc,
                                    tile_update update, const kb_gemm_epilogue *epilogue, long row0, long col0)
{
    for (long i = 0; i < rows; i += MR) {
        const float *panel_a = pa + i * kc;
        for (long j = 0, nr; j < cols; j += nr) {
            nr = panel_width(j, cols);
            const float *panel_b = pb + j * kc;
            long tile_rows = rows - i, tile_cols = cols - j;
            if (nr == 32)
                tile(panel_a, panel_b, kc, 2, c + i * ldc + j, ldc, tile_rows, tile_cols, update);
            else
                tile(panel_a, panel_b, kc, 1, c + i * ldc + j, ldc, tile_rows, tile_cols, update);
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

KB_AVX512 int kb_sgemm_avx512(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                              const float *b, long ldb, float beta, float *c, long ldc,
                              const kb_gemm_epilogue *epilogue)
{
    if (m <= 0 || n <= 0)
        return 1;
    if (k <= 0) {
        scale_c(m, n, beta, c, ldc);
        kb_gemm_epilogue_apply(epilogue, 0, 0, m, n, c, ldc);
        return 1;
    }
    long block = kb_sgemm_block_length(k);
    long mc_max = m < MC ? m : MC, nc_max = n < NC ? n : NC;
    float *pa = kb_scratch_reserve(&packed_a_buffer, (size_t)((mc_max + MR - 1) / MR * MR * block) * sizeof(float));
    float *pb = kb_scratch_reserve(&packed_b_buffer, (size_t)((nc_max + 31) / 32 * 32 * block) * sizeof(float));
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

int kb_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda, const float *b,
             long ldb, float beta, float *c, long ldc, const kb_gemm_epilogue *epilogue)
{
#if defined(__x86_64__)
    if (kb_active_path() == KB_PATH_AVX512)
        return kb_sgemm_avx512(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epilogue);
#endif
    return 0;
}
