/* FP32 kernels of the direct (small-depth) convolution, in the portable set and AVX2.
 *
 * A first convolution layer on grey or RGB images has a depth k·k·cin of 9 or 27: too thin for a
 * GEMM to run near its peak, so the engine multiplies the windows by the weights itself (see
 * Conv2d+SmallDepth.swift). Swift's SIMD types compile for baseline x86-64, two 128-bit SSE
 * operations per eight lanes; these copies use 256-bit registers where the CPU has them.
 *
 * Every set performs, lane for lane, the same IEEE operations in the same order as the portable
 * loops: a multiply then an add, never contracted into a fused multiply-add (the pragma below), and
 * the same association of the four-pixel sums. So all sets give bit-identical results. */

#include "CKernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AT_X86 1
#endif

#pragma clang fp contract(off)

/* ---- portable ------------------------------------------------------------------------------- */

/* Output columns [first, columns) of one pixel, one at a time. */
static void multiply_scalar_columns(const float *window, const ptrdiff_t *taps, int depth, const float *w,
                                    const float *bias, int columns, int first, float *out) {
    for (int k = first; k < columns; k++) {
        float s = bias ? bias[k] : 0.0f;
        for (int t = 0; t < depth; t++) s += window[taps[t]] * w[(ptrdiff_t)t * columns + k];
        out[k] = s;
    }
}

static void multiply_portable(const float *windows, ptrdiff_t pixel_stride, const ptrdiff_t *taps, int depth,
                              int pixels, const float *w, const float *bias, int columns, float *y) {
    for (int p = 0; p < pixels; p++)
        multiply_scalar_columns(windows + p * pixel_stride, taps, depth, w, bias, columns, 0, y + (ptrdiff_t)p * columns);
}

/* The windows and gradient rows of pixels p ..< p + 4. */
static inline void four_pixels(const float *windows, ptrdiff_t pixel_stride, const float *dy, int columns, int p,
                               const float *c[4], const float *g[4]) {
    for (int q = 0; q < 4; q++) {
        c[q] = windows + (p + q) * pixel_stride;
        g[q] = dy + (ptrdiff_t)(p + q) * columns;
    }
}

/* Columns [first, columns) of four consecutive pixels c[0..3] with gradients g[0..3]. */
static void gradient_scalar_columns4(const float *const c[4], const float *const g[4], const ptrdiff_t *taps, int depth,
                                     int columns, int first, float *dw, float *db) {
    for (int k = first; k < columns; k++) {
        if (db) db[k] += (g[0][k] + g[1][k]) + (g[2][k] + g[3][k]);
        for (int t = 0; t < depth; t++) {
            const ptrdiff_t o = taps[t];
            dw[(ptrdiff_t)t * columns + k] += (c[0][o] * g[0][k] + c[1][o] * g[1][k]) + (c[2][o] * g[2][k] + c[3][o] * g[3][k]);
        }
    }
}

/* The pixels past the last group of four, one at a time. */
static void gradient_tail(const float *windows, ptrdiff_t pixel_stride, const ptrdiff_t *taps, int depth, const float *dy,
                          int first, int pixels, int columns, float *dw, float *db) {
    for (int p = first; p < pixels; p++) {
        const float *c = windows + p * pixel_stride, *g = dy + (ptrdiff_t)p * columns;
        for (int k = 0; k < columns; k++) {
            if (db) db[k] += g[k];
            for (int t = 0; t < depth; t++) dw[(ptrdiff_t)t * columns + k] += c[taps[t]] * g[k];
        }
    }
}

static void gradient_portable(const float *windows, ptrdiff_t pixel_stride, const ptrdiff_t *taps, int depth,
                              const float *dy, int pixels, int columns, float *dw, float *db) {
    int p = 0;
    for (; p + 4 <= pixels; p += 4) {
        const float *c[4], *g[4];
        four_pixels(windows, pixel_stride, dy, columns, p, c, g);
        gradient_scalar_columns4(c, g, taps, depth, columns, 0, dw, db);
    }
    gradient_tail(windows, pixel_stride, taps, depth, dy, p, pixels, columns, dw, db);
}

#ifdef AT_X86

/* ---- AVX2: eight columns per register, sixteen per pass where they fit ------------------------ */

__attribute__((target("avx2")))
static void multiply_avx2(const float *windows, ptrdiff_t pixel_stride, const ptrdiff_t *taps, int depth,
                          int pixels, const float *w, const float *bias, int columns, float *y) {
    int p = 0;
    for (; p + 4 <= pixels; p += 4) {
        const float *c0 = windows + p * pixel_stride, *c1 = c0 + pixel_stride, *c2 = c1 + pixel_stride, *c3 = c2 + pixel_stride;
        float *y0 = y + (ptrdiff_t)p * columns, *y1 = y0 + columns, *y2 = y1 + columns, *y3 = y2 + columns;
        int j = 0;
        /* Sixteen columns: each broadcast window value feeds two registers. */
        for (; j + 16 <= columns; j += 16) {
            const __m256 b0 = bias ? _mm256_loadu_ps(bias + j) : _mm256_setzero_ps();
            const __m256 b1 = bias ? _mm256_loadu_ps(bias + j + 8) : _mm256_setzero_ps();
            __m256 s00 = b0, s01 = b1, s10 = b0, s11 = b1, s20 = b0, s21 = b1, s30 = b0, s31 = b1;
            for (int t = 0; t < depth; t++) {
                const float *wt = w + (ptrdiff_t)t * columns + j;
                const __m256 w0 = _mm256_loadu_ps(wt), w1 = _mm256_loadu_ps(wt + 8);
                const ptrdiff_t o = taps[t];
                const __m256 x0 = _mm256_broadcast_ss(c0 + o), x1 = _mm256_broadcast_ss(c1 + o);
                const __m256 x2 = _mm256_broadcast_ss(c2 + o), x3 = _mm256_broadcast_ss(c3 + o);
                s00 = _mm256_add_ps(s00, _mm256_mul_ps(x0, w0)); s01 = _mm256_add_ps(s01, _mm256_mul_ps(x0, w1));
                s10 = _mm256_add_ps(s10, _mm256_mul_ps(x1, w0)); s11 = _mm256_add_ps(s11, _mm256_mul_ps(x1, w1));
                s20 = _mm256_add_ps(s20, _mm256_mul_ps(x2, w0)); s21 = _mm256_add_ps(s21, _mm256_mul_ps(x2, w1));
                s30 = _mm256_add_ps(s30, _mm256_mul_ps(x3, w0)); s31 = _mm256_add_ps(s31, _mm256_mul_ps(x3, w1));
            }
            _mm256_storeu_ps(y0 + j, s00); _mm256_storeu_ps(y0 + j + 8, s01);
            _mm256_storeu_ps(y1 + j, s10); _mm256_storeu_ps(y1 + j + 8, s11);
            _mm256_storeu_ps(y2 + j, s20); _mm256_storeu_ps(y2 + j + 8, s21);
            _mm256_storeu_ps(y3 + j, s30); _mm256_storeu_ps(y3 + j + 8, s31);
        }
        for (; j + 8 <= columns; j += 8) {
            const __m256 b = bias ? _mm256_loadu_ps(bias + j) : _mm256_setzero_ps();
            __m256 s0 = b, s1 = b, s2 = b, s3 = b;
            for (int t = 0; t < depth; t++) {
                const __m256 wt = _mm256_loadu_ps(w + (ptrdiff_t)t * columns + j);
                const ptrdiff_t o = taps[t];
                s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_broadcast_ss(c0 + o), wt));
                s1 = _mm256_add_ps(s1, _mm256_mul_ps(_mm256_broadcast_ss(c1 + o), wt));
                s2 = _mm256_add_ps(s2, _mm256_mul_ps(_mm256_broadcast_ss(c2 + o), wt));
                s3 = _mm256_add_ps(s3, _mm256_mul_ps(_mm256_broadcast_ss(c3 + o), wt));
            }
            _mm256_storeu_ps(y0 + j, s0); _mm256_storeu_ps(y1 + j, s1);
            _mm256_storeu_ps(y2 + j, s2); _mm256_storeu_ps(y3 + j, s3);
        }
        const float *cs[4] = {c0, c1, c2, c3};
        float *ys[4] = {y0, y1, y2, y3};
        for (int q = 0; q < 4; q++) multiply_scalar_columns(cs[q], taps, depth, w, bias, columns, j, ys[q]);
    }
    for (; p < pixels; p++)
        multiply_scalar_columns(windows + p * pixel_stride, taps, depth, w, bias, columns, 0, y + (ptrdiff_t)p * columns);
}

__attribute__((target("avx2")))
static void gradient_avx2(const float *windows, ptrdiff_t pixel_stride, const ptrdiff_t *taps, int depth,
                          const float *dy, int pixels, int columns, float *dw, float *db) {
    int p = 0;
    for (; p + 4 <= pixels; p += 4) {
        const float *c[4], *g[4];
        four_pixels(windows, pixel_stride, dy, columns, p, c, g);
        int j = 0;
        for (; j + 8 <= columns; j += 8) {
            const __m256 d0 = _mm256_loadu_ps(g[0] + j), d1 = _mm256_loadu_ps(g[1] + j);
            const __m256 d2 = _mm256_loadu_ps(g[2] + j), d3 = _mm256_loadu_ps(g[3] + j);
            if (db) _mm256_storeu_ps(db + j, _mm256_add_ps(_mm256_loadu_ps(db + j),
                                                           _mm256_add_ps(_mm256_add_ps(d0, d1), _mm256_add_ps(d2, d3))));
            for (int t = 0; t < depth; t++) {
                float *s = dw + (ptrdiff_t)t * columns + j;
                const ptrdiff_t o = taps[t];
                const __m256 a = _mm256_add_ps(_mm256_mul_ps(_mm256_broadcast_ss(c[0] + o), d0),
                                               _mm256_mul_ps(_mm256_broadcast_ss(c[1] + o), d1));
                const __m256 b = _mm256_add_ps(_mm256_mul_ps(_mm256_broadcast_ss(c[2] + o), d2),
                                               _mm256_mul_ps(_mm256_broadcast_ss(c[3] + o), d3));
                _mm256_storeu_ps(s, _mm256_add_ps(_mm256_loadu_ps(s), _mm256_add_ps(a, b)));
            }
        }
        gradient_scalar_columns4(c, g, taps, depth, columns, j, dw, db);
    }
    gradient_tail(windows, pixel_stride, taps, depth, dy, p, pixels, columns, dw, db);
}

#endif

void at_f32_small_depth_multiply(int set, const float *windows, ptrdiff_t pixel_stride, const ptrdiff_t *taps, int depth,
                                 int pixels, const float *w, const float *bias, int columns, float *y) {
#ifdef AT_X86
    if (set >= AT_KERNELS_AVX2) {
        multiply_avx2(windows, pixel_stride, taps, depth, pixels, w, bias, columns, y);
        return;
    }
#endif
    (void)set;
    multiply_portable(windows, pixel_stride, taps, depth, pixels, w, bias, columns, y);
}

void at_f32_small_depth_gradient(int set, const float *windows, ptrdiff_t pixel_stride, const ptrdiff_t *taps, int depth,
                                 const float *dy, int pixels, int columns, float *dw, float *db) {
#ifdef AT_X86
    if (set >= AT_KERNELS_AVX2) {
        gradient_avx2(windows, pixel_stride, taps, depth, dy, pixels, columns, dw, db);
        return;
    }
#endif
    (void)set;
    gradient_portable(windows, pixel_stride, taps, depth, dy, pixels, columns, dw, db);
}
