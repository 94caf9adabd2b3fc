#ifndef AUTOTUNE_CBLAS_SHIM_H
#define AUTOTUNE_CBLAS_SHIM_H
#include <cblas.h>

/* LAPACK single-precision SVD, shipped inside libopenblas (Fortran calling convention). */
void sgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n,
             float *a, const int *lda, float *s, float *u, const int *ldu,
             float *vt, const int *ldvt, float *work, const int *lwork, int *info);

/* Eight-lane square root lowered to one vector instruction. Swift's Float.squareRoot() keeps
   libm's errno path on Linux, which splits SIMD vectors into scalar calls. Swift imports the
   vector type as SIMD8<Float>. */
typedef float autotune_float8 __attribute__((ext_vector_type(8)));
static inline autotune_float8 autotune_sqrt8(autotune_float8 x) { return __builtin_elementwise_sqrt(x); }
#endif
