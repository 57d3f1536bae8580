#ifndef KIBAN_SCRATCH_H
#define KIBAN_SCRATCH_H

// Internal helpers shared by the packing kernels (sgemm.c, bf16gemm.c, attention.c): per-thread scratch buffers and
// lane masks for partial vectors. Portable C: no intrinsics here.

#include <stdlib.h>

/// A growable, 64-byte aligned scratch buffer. Kernels keep one per thread and use (`_Thread_local`), grow it as a
/// call needs and keep it for the thread's next call; callers split work across threads, never a buffer.
typedef struct {
    void *data;
    size_t bytes;
} kb_scratch;

/// At least max(bytes, 1) bytes of `buffer`, 64-byte aligned, or NULL when memory runs out. Growing drops the old
/// contents.
static inline void *kb_scratch_reserve(kb_scratch *buffer, size_t bytes)
{
    if (bytes == 0)
        bytes = 1;
    if (buffer->bytes >= bytes)
        return buffer->data;
    free(buffer->data);
    size_t rounded = (bytes + 63) / 64 * 64;
    buffer->data = aligned_alloc(64, rounded);
    buffer->bytes = buffer->data == NULL ? 0 : rounded;
    return buffer->data;
}

/// Lanes [0, count) of a 16-lane mask (an AVX-512 __mmask16): all for count ≥ 16, none for count ≤ 0.
static inline unsigned short kb_lanes16(long count)
{
    return (unsigned short)(count >= 16 ? 0xFFFF : count <= 0 ? 0 : (1u << count) - 1);
}

/// Lanes [0, count) of an 8-lane mask (an __mmask8): all for count ≥ 8, none for count ≤ 0.
static inline unsigned char kb_lanes8(long count)
{
    return (unsigned char)(count >= 8 ? 0xFF : count <= 0 ? 0 : (1u << count) - 1);
}

#endif
