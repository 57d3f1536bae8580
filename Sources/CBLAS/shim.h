// OpenBLAS through its CBLAS interface, plus the few OpenBLAS extensions Kiban calls
// (thread control and the build's configuration string) and the one LAPACK routine it uses.
#ifndef KIBAN_CBLAS_SHIM_H
#define KIBAN_CBLAS_SHIM_H
#include <stddef.h>
#include <cblas.h>

/// The enum values Swift sees as imported constants already; these spell the two
/// layouts Kiban uses so call sites read as words.
static inline enum CBLAS_ORDER kiban_cblas_row_major(void) { return CblasRowMajor; }
static inline enum CBLAS_TRANSPOSE kiban_cblas_no_trans(void) { return CblasNoTrans; }
static inline enum CBLAS_TRANSPOSE kiban_cblas_trans(void) { return CblasTrans; }

/// LAPACK's divide-and-conquer singular value decomposition of a column-major m × n matrix, as
/// OpenBLAS exports it (Fortran calling convention: every argument by pointer, the length of the
/// character argument `jobz` last). Debian ships no LAPACK header with libopenblas-dev.
void dgesdd_(const char *jobz, const int *m, const int *n, double *a, const int *lda, double *s, double *u,
             const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork, int *iwork, int *info,
             size_t jobz_length);
#endif
