#ifndef AUTOTUNE_CKERNELS_H
#define AUTOTUNE_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Kernels the engine runs close to the machine: each hot loop is compiled several times, once per
 * instruction set (per-function target attributes), and one copy is chosen at run time from CPUID.
 * Every set gives bit-identical results: integer sums are exact, and float epilogues are shared
 * code compiled once, without contraction into fused multiply-adds. */

/* The instruction sets a kernel is compiled for, from the portable C fallback up. */
typedef enum {
    AT_KERNELS_PORTABLE = 0,
    AT_KERNELS_AVX2 = 1,
    AT_KERNELS_AVX512BW = 2,
    AT_KERNELS_AVX512VNNI = 3,
} at_kernel_set;

/* Number of kernel sets (the enum's values are 0 ..< AT_KERNEL_SET_COUNT). */
#define AT_KERNEL_SET_COUNT 4

/* 1 when this CPU and its operating system run `set` (CPUID and XGETBV, read once), else 0. */
int at_kernel_set_supported(int set);

/* The fastest set this CPU runs. */
int at_kernel_set_best(void);

/* ---- int8 x int8 -> int32 GEMM ------------------------------------------------------------- */

/* Columns of B per packed panel. */
#define AT_I8_PANEL_COLUMNS 16

/* int16 values the packed form of an n x k int8 matrix B takes:
 * ceil(n / 16) panels x ceil(k / 2) depth pairs x 16 columns x 2. */
size_t at_i8_packed_count(int n, int k);

/* Widen and lay out B (n x k int8, row stride ldb: each output column's k values contiguous) into
 * `packed` (at_i8_packed_count(n, k) values, 64-byte aligned). Padding rows and depth are zero. */
void at_i8_pack(int n, int k, const int8_t *b, ptrdiff_t ldb, int16_t *packed);

/* The per-column float epilogue fused into the GEMM's store:
 * y[r, c] = (float)(sum[r, c] - offset[c]) * scale[c] (+ bias[c]), the subtraction wrapping in int32. */
typedef struct {
    const float *scale;
    const int32_t *offset;
    const float *bias; /* NULL: none */
} at_i8_requant;

/* Rows 0 ..< m of C = A · Bᵀ for int8 A (m x k, row stride lda) and B packed by at_i8_pack
 * (n columns), over column panels [panel_begin, panel_end). With `requant` NULL the int32 sums go
 * to c (row stride ldc); otherwise the epilogue's floats go to y (row stride ldc) and c is unused.
 * k is at most 65536, so the int32 sums are exact. */
void at_i8_gemm(int set, int m, int k, const int8_t *a, ptrdiff_t lda, const int16_t *packed, int n,
                int panel_begin, int panel_end, int32_t *c, float *y, ptrdiff_t ldc,
                const at_i8_requant *requant);

/* The im2col matrix of rows [first_row, first_row + rows) of a convolution over NHWC int8 codes x
 * (batch x height x width x channels), square kernel, stride and zero padding: row (b, oy, ox) holds
 * the window at that output pixel in (ky, kx, channel) order, `pad` where it overhangs the image;
 * rows go to col (rows x kernel·kernel·channels). */
void at_i8_im2col(const int8_t *x, int height, int width, int channels, int kernel, int stride, int padding,
                  int out_height, int out_width, int8_t pad, int first_row, int rows, int8_t *col);

/* ---- FP32 direct convolution over a small depth (see FloatKernels.c) ------------------------- */

/* y (pixels x columns) = bias + windows · w for a depth of `depth` taps: tap t of pixel p is
 * windows[p·pixel_stride + taps[t]], w is (depth x columns) row-major, bias (columns) or NULL. */
void at_f32_small_depth_multiply(int set, const float *windows, ptrdiff_t pixel_stride, const ptrdiff_t *taps, int depth,
                                 int pixels, const float *w, const float *bias, int columns, float *y);

/* dw (depth x columns) += windowsᵀ · dy (pixels x columns), windows as above, and db (columns) += the
 * column sums of dy unless db is NULL. Four pixels at a time: each partial sum in dw is read and
 * written once per four products, which are added as (p0 + p1) + (p2 + p3). */
void at_f32_small_depth_gradient(int set, const float *windows, ptrdiff_t pixel_stride, const ptrdiff_t *taps, int depth,
                                 const float *dy, int pixels, int columns, float *dw, float *db);

#endif
