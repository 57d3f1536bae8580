// OpenBLAS through its CBLAS interface, plus the few OpenBLAS extensions Kiban calls
// (thread control and the build's configuration string).
#ifndef KIBAN_CBLAS_SHIM_H
#define KIBAN_CBLAS_SHIM_H
#include <cblas.h>

/// The enum values Swift sees as imported constants already; these spell the two
/// layouts Kiban uses so call sites read as words.
static inline enum CBLAS_ORDER kiban_cblas_row_major(void) { return CblasRowMajor; }
static inline enum CBLAS_TRANSPOSE kiban_cblas_no_trans(void) { return CblasNoTrans; }
static inline enum CBLAS_TRANSPOSE kiban_cblas_trans(void) { return CblasTrans; }
#endif
