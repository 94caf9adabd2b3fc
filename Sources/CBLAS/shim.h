#ifndef AUTOTUNE_CBLAS_SHIM_H
#define AUTOTUNE_CBLAS_SHIM_H
#include <cblas.h>

/* LAPACK single-precision SVD, shipped inside libopenblas (Fortran calling convention). */
void sgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n,
             float *a, const int *lda, float *s, float *u, const int *ldu,
             float *vt, const int *ldvt, float *work, const int *lwork, int *info);
#endif
