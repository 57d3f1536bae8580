// The GEMM epilogue (kiban_kernels.h): the residual add and GELU applied to a block of C once its sum is complete.

#include <stddef.h>

#include "kiban_kernels.h"

void kb_gemm_epilogue_apply(const kb_gemm_epilogue *epilogue, long row, long col, long rows, long cols, float *c,
                            long ldc)
{
    if (epilogue == NULL)
        return;
    for (long i = 0; i < rows; i++) {
        float *line = c + i * ldc;
        if (epilogue->residual != NULL) {
            const float *residual = epilogue->residual + (row + i) * epilogue->ldr + col;
            for (long j = 0; j < cols; j++)
                line[j] += residual[j];
        }
        if (epilogue->activated != NULL) {
            float *activated = epilogue->activated + (row + i) * epilogue->ld_activated + col;
            if (epilogue->gelu_tanh)
                kb_gelu_tanh_forward(line, activated, cols);
            else
                kb_gelu_erf_forward(line, activated, cols);
        }
    }
}
