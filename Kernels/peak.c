// FMA throughput probe. On x86-64 each path's loop is inline assembly on independent accumulators (more than the FMA
// latency times the FMA ports), so it measures throughput at any optimisation level and cannot be optimised away;
// elsewhere only the scalar path exists, as a portable C loop. The
// registers start at 0 (0 * 0 + 0 keeps them 0: no overflow, no denormals).

#define _POSIX_C_SOURCE 199309L

#include "kiban_kernels.h"

#include <time.h>

#define KB_PEAK_BLOCK (1L << 16)

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#if defined(__x86_64__)

/// `iterations` x 12 scalar multiply-add pairs (mulss + addss, so it needs no FMA unit) on xmm0-xmm11.
static void fma_block_scalar(long iterations)
{
    __asm__ __volatile__(
        "xorps %%xmm0, %%xmm0\n\t"
        "movaps %%xmm0, %%xmm1\n\t" "movaps %%xmm0, %%xmm2\n\t" "movaps %%xmm0, %%xmm3\n\t"
        "movaps %%xmm0, %%xmm4\n\t" "movaps %%xmm0, %%xmm5\n\t" "movaps %%xmm0, %%xmm6\n\t"
        "movaps %%xmm0, %%xmm7\n\t" "movaps %%xmm0, %%xmm8\n\t" "movaps %%xmm0, %%xmm9\n\t"
        "movaps %%xmm0, %%xmm10\n\t" "movaps %%xmm0, %%xmm11\n\t"
        "movaps %%xmm0, %%xmm14\n\t" "movaps %%xmm0, %%xmm15\n\t"
        "1:\n\t"
        "mulss %%xmm14, %%xmm0\n\t" "addss %%xmm15, %%xmm0\n\t" "mulss %%xmm14, %%xmm1\n\t" "addss %%xmm15, %%xmm1\n\t"
        "mulss %%xmm14, %%xmm2\n\t" "addss %%xmm15, %%xmm2\n\t" "mulss %%xmm14, %%xmm3\n\t" "addss %%xmm15, %%xmm3\n\t"
        "mulss %%xmm14, %%xmm4\n\t" "addss %%xmm15, %%xmm4\n\t" "mulss %%xmm14, %%xmm5\n\t" "addss %%xmm15, %%xmm5\n\t"
        "mulss %%xmm14, %%xmm6\n\t" "addss %%xmm15, %%xmm6\n\t" "mulss %%xmm14, %%xmm7\n\t" "addss %%xmm15, %%xmm7\n\t"
        "mulss %%xmm14, %%xmm8\n\t" "addss %%xmm15, %%xmm8\n\t" "mulss %%xmm14, %%xmm9\n\t" "addss %%xmm15, %%xmm9\n\t"
        "mulss %%xmm14, %%xmm10\n\t" "addss %%xmm15, %%xmm10\n\t"
        "mulss %%xmm14, %%xmm11\n\t" "addss %%xmm15, %%xmm11\n\t"
        "dec %0\n\t"
        "jnz 1b\n\t"
        : "+r"(iterations)
        :
        : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
          "xmm14", "xmm15");
}

/// `iterations` x 12 vfmadd231ps on ymm0-ymm11 (8 lanes each).
static void fma_block_avx2(long iterations)
{
    __asm__ __volatile__(
        "vxorps %%ymm0, %%ymm0, %%ymm0\n\t"
        "vmovaps %%ymm0, %%ymm1\n\t" "vmovaps %%ymm0, %%ymm2\n\t" "vmovaps %%ymm0, %%ymm3\n\t"
        "vmovaps %%ymm0, %%ymm4\n\t" "vmovaps %%ymm0, %%ymm5\n\t" "vmovaps %%ymm0, %%ymm6\n\t"
        "vmovaps %%ymm0, %%ymm7\n\t" "vmovaps %%ymm0, %%ymm8\n\t" "vmovaps %%ymm0, %%ymm9\n\t"
        "vmovaps %%ymm0, %%ymm10\n\t" "vmovaps %%ymm0, %%ymm11\n\t"
        "vmovaps %%ymm0, %%ymm14\n\t" "vmovaps %%ymm0, %%ymm15\n\t"
        "1:\n\t"
        "vfmadd231ps %%ymm15, %%ymm14, %%ymm0\n\t" "vfmadd231ps %%ymm15, %%ymm14, %%ymm1\n\t"
        "vfmadd231ps %%ymm15, %%ymm14, %%ymm2\n\t" "vfmadd231ps %%ymm15, %%ymm14, %%ymm3\n\t"
        "vfmadd231ps %%ymm15, %%ymm14, %%ymm4\n\t" "vfmadd231ps %%ymm15, %%ymm14, %%ymm5\n\t"
        "vfmadd231ps %%ymm15, %%ymm14, %%ymm6\n\t" "vfmadd231ps %%ymm15, %%ymm14, %%ymm7\n\t"
        "vfmadd231ps %%ymm15, %%ymm14, %%ymm8\n\t" "vfmadd231ps %%ymm15, %%ymm14, %%ymm9\n\t"
        "vfmadd231ps %%ymm15, %%ymm14, %%ymm10\n\t" "vfmadd231ps %%ymm15, %%ymm14, %%ymm11\n\t"
        "dec %0\n\t"
        "jnz 1b\n\t"
        "vzeroupper\n\t"
        : "+r"(iterations)
        :
        : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
          "xmm14", "xmm15");
}

/// `iterations` x 14 vfmadd231ps on zmm0-zmm13 (16 lanes each).
static void fma_block_avx512(long iterations)
{
    __asm__ __volatile__(
        "vpxord %%zmm0, %%zmm0, %%zmm0\n\t"
        "vmovaps %%zmm0, %%zmm1\n\t" "vmovaps %%zmm0, %%zmm2\n\t" "vmovaps %%zmm0, %%zmm3\n\t"
        "vmovaps %%zmm0, %%zmm4\n\t" "vmovaps %%zmm0, %%zmm5\n\t" "vmovaps %%zmm0, %%zmm6\n\t"
        "vmovaps %%zmm0, %%zmm7\n\t" "vmovaps %%zmm0, %%zmm8\n\t" "vmovaps %%zmm0, %%zmm9\n\t"
        "vmovaps %%zmm0, %%zmm10\n\t" "vmovaps %%zmm0, %%zmm11\n\t" "vmovaps %%zmm0, %%zmm12\n\t"
        "vmovaps %%zmm0, %%zmm13\n\t" "vmovaps %%zmm0, %%zmm14\n\t" "vmovaps %%zmm0, %%zmm15\n\t"
        "1:\n\t"
        "vfmadd231ps %%zmm15, %%zmm14, %%zmm0\n\t" "vfmadd231ps %%zmm15, %%zmm14, %%zmm1\n\t"
        "vfmadd231ps %%zmm15, %%zmm14, %%zmm2\n\t" "vfmadd231ps %%zmm15, %%zmm14, %%zmm3\n\t"
        "vfmadd231ps %%zmm15, %%zmm14, %%zmm4\n\t" "vfmadd231ps %%zmm15, %%zmm14, %%zmm5\n\t"
        "vfmadd231ps %%zmm15, %%zmm14, %%zmm6\n\t" "vfmadd231ps %%zmm15, %%zmm14, %%zmm7\n\t"
        "vfmadd231ps %%zmm15, %%zmm14, %%zmm8\n\t" "vfmadd231ps %%zmm15, %%zmm14, %%zmm9\n\t"
        "vfmadd231ps %%zmm15, %%zmm14, %%zmm10\n\t" "vfmadd231ps %%zmm15, %%zmm14, %%zmm11\n\t"
        "vfmadd231ps %%zmm15, %%zmm14, %%zmm12\n\t" "vfmadd231ps %%zmm15, %%zmm14, %%zmm13\n\t"
        "dec %0\n\t"
        "jnz 1b\n\t"
        "vzeroupper\n\t"
        : "+r"(iterations)
        :
        : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
          "xmm12", "xmm13", "xmm14", "xmm15");
}

#else

/// `iterations` x 12 scalar multiply-add pairs on independent accumulators. Without x86 registers to name, an
/// empty asm statement makes the compiler keep every step (it cannot remove or merge them); the accumulators
/// then pass through memory, so this portable figure is a lower bound.
static void fma_block_scalar(long iterations)
{
    float accumulators[12] = {0}, scale = 0.0f, shift = 0.0f;
    for (long i = 0; i < iterations; i++) {
        for (int r = 0; r < 12; r++)
            accumulators[r] = accumulators[r] * scale + shift;
        __asm__ __volatile__("" : "+m"(accumulators));
    }
}

#endif

/// Runs one block of `path` and returns the flops it performed.
static double fma_block(kb_path path)
{
    switch (path) {
#if defined(__x86_64__)
    case KB_PATH_AVX512:
        fma_block_avx512(KB_PEAK_BLOCK);
        return (double)KB_PEAK_BLOCK * 14 * 16 * 2;
    case KB_PATH_AVX2:
        fma_block_avx2(KB_PEAK_BLOCK);
        return (double)KB_PEAK_BLOCK * 12 * 8 * 2;
#endif
    default:
        fma_block_scalar(KB_PEAK_BLOCK);
        return (double)KB_PEAK_BLOCK * 12 * 2;
    }
}

double kb_fma_peak_gflops(kb_path path, double seconds)
{
    if (!kb_path_supported(path))
        return 0.0;
    fma_block(path);
    double flops = 0.0, start = now_seconds(), elapsed;
    do {
        flops += fma_block(path);
        elapsed = now_seconds() - start;
    } while (elapsed < seconds);
    return flops / elapsed * 1e-9;
}
