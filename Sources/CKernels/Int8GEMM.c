/* int8 x int8 -> int32 GEMM, C = A · Bᵀ, in one portable and three x86 instruction sets.
 *
 * B (the weights) is widened to int16 once and packed in panels of 16 columns; within a panel each
 * pair of depth values sits side by side per column, so one 16-bit multiply-add (pmaddwd, or
 * vpdpwssd with AVX-512 VNNI) against a broadcast pair of A values gives 8 or 16 columns' partial
 * sums in int32 lanes with no horizontal reduction (the broadcast form of the Goto & van de Geijn
 * 2008 micro-kernel). A is widened to int16 a row panel at a time, each row contiguous. Products of
 * int8 values are at most 2^14 and depth at most 2^16, so every sum is exact: all sets agree bit for
 * bit, and the float epilogue is one function shared by all of them.
 *
 * Why 16-bit multiply-adds on AVX2 rather than vpmaddubsw (u8 x s8 -> saturating int16 pairs).
 * 32 multiply-accumulates take two 256-bit pmaddwd, or one vpmaddubsw plus the vpmaddwd against
 * ones that widens its pairs to int32: two multiplies either way. vpmaddubsw can be kept exact
 * without changing the quantization by the sign trick, |a| x sign(b, a), which holds for weights in
 * [-127, 127] (2·128·127 = 32512 <= 32767) but adds a vpsignb per row and B vector; or by 7-bit
 * weights (ONNX Runtime's reduce_range), a different quantization for every set. Measured with one
 * thread on an AVX2 AMD EPYC (family 23, no AVX-512) and operands in L1: 256-bit vpmaddwd,
 * vpmaddubsw and vpmullw each retire 1.2·10^9 times a second, FMA 2.45·10^9 — the integer multiplier
 * is one 128-bit pipe. The 6 x 16 pmaddwd tile ran at 38.7–39.5 GOP/s, a 4 x 16 sign-trick tile at
 * 37.0–37.3, a 6 x 16 u8 x s8 tile at 37.8–37.9, and a sign-trick tile that adds two vpmaddubsw in
 * int16 before widening (exact only for weights in [-63, 63]) at 38.5–41.0: all near that pipe's
 * bound, 1.2·10^9 x 32 = 39 GOP/s, which is also FP32 FMA's (2.45·10^9 x 16 = 39 GFLOP/s). So no u8 x s8 form gains here and
 * the exact int16 one stays; int8 wins over FP32 where bytes count (one sample, im2col), not in the
 * multiplies. Packing a block of A once and sweeping each B panel over all its tiles (Goto's loop
 * order) measured the same as this row-panel order (128 x 512 x 784: 34.8 against 36.5 GOP/s): the
 * tile is bound by the multiplier, not by B streaming from L2/L3. */

#include "CKernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AT_X86 1
#endif

#pragma clang fp contract(off)

/* Columns per panel, and the rows of each set's register tile. */
enum { NR = AT_I8_PANEL_COLUMNS, MR_PORTABLE = 4, MR_AVX2 = 6, MR_AVX512 = 12 };

static int pairs(int k) { return (k + 1) / 2; }

size_t at_i8_packed_count(int n, int k) {
    return (size_t)((n + NR - 1) / NR) * (size_t)pairs(k) * NR * 2;
}

void at_i8_pack(int n, int k, const int8_t *b, ptrdiff_t ldb, int16_t *packed) {
    const int kp = pairs(k), panels = (n + NR - 1) / NR;
    memset(packed, 0, at_i8_packed_count(n, k) * sizeof(int16_t));
    for (int j = 0; j < panels; j++) {
        int16_t *panel = packed + (size_t)j * kp * NR * 2;   /* (kp, 16, 2) */
        for (int c = 0; c < NR && j * NR + c < n; c++) {
            const int8_t *row = b + (ptrdiff_t)(j * NR + c) * ldb;
            for (int i = 0; i < k; i++) panel[((size_t)(i / 2) * NR + c) * 2 + (i & 1)] = row[i];
        }
    }
}

/* A 32-bit word read from memory written as int16 pairs. */
typedef uint32_t __attribute__((may_alias)) pair_word;

/* Rows [0, rows) of A (k deep) widened to int16, row r at out + r·2·kp: word p of a row is the pair
 * (a[2p], a[2p+1]), the first value in the low half. Rows past `rows` and the odd tail are zero. */
static void pack_rows(int mr, int rows, int k, const int8_t *a, ptrdiff_t lda, int16_t *restrict out) {
    const int kp = pairs(k);
    for (int r = 0; r < mr; r++) {
        int16_t *restrict dst = out + (size_t)r * kp * 2;
        if (r >= rows) {
            memset(dst, 0, (size_t)kp * 2 * sizeof(int16_t));
            continue;
        }
        const int8_t *restrict src = a + (ptrdiff_t)r * lda;
        for (int i = 0; i < k; i++) dst[i] = src[i];
        if (k & 1) dst[k] = 0;
    }
}

/* out[j] = (float)(s[j] - offset[j]) * scale[j] (+ bias[j]) for j < cols: four lanes at a time with
 * SSE2 (in every x86-64), the same IEEE operations one at a time in the tail and elsewhere. */
static void rescale_row(const int32_t *restrict s, int cols, const at_i8_requant *rq, int column, float *restrict out) {
    const float *scale = rq->scale + column, *bias = rq->bias ? rq->bias + column : NULL;
    const int32_t *offset = rq->offset + column;
    int j = 0;
#ifdef AT_X86
    for (; j + 4 <= cols; j += 4) {
        const __m128i d = _mm_sub_epi32(_mm_loadu_si128((const __m128i *)(s + j)), _mm_loadu_si128((const __m128i *)(offset + j)));
        __m128 v = _mm_mul_ps(_mm_cvtepi32_ps(d), _mm_loadu_ps(scale + j));
        if (bias) v = _mm_add_ps(v, _mm_loadu_ps(bias + j));
        _mm_storeu_ps(out + j, v);
    }
#endif
    for (; j < cols; j++) {
        float v = (float)(int32_t)((uint32_t)s[j] - (uint32_t)offset[j]) * scale[j];
        out[j] = bias ? v + bias[j] : v;
    }
}

/* Store the valid (rows x cols) corner of a tile t (mr x 16 int32, row-major). */
static void store_tile(const int32_t *t, int rows, int cols, int column, int32_t *c, float *y, ptrdiff_t ldc,
                       const at_i8_requant *rq) {
    for (int r = 0; r < rows; r++) {
        if (rq) rescale_row(t + r * NR, cols, rq, column, y + r * ldc + column);
        else memcpy(c + r * ldc + column, t + r * NR, (size_t)cols * sizeof(int32_t));
    }
}

/* A micro-kernel: an mr x 16 tile of sums over kp depth pairs into t; row r of A is a + r·kp. */
typedef void (*tile_kernel)(int kp, const pair_word *a, const int16_t *b, int32_t *t);

/* ---- portable ------------------------------------------------------------------------------- */

static void tile_portable(int kp, const pair_word *a, const int16_t *b, int32_t *t) {
    int32_t acc[MR_PORTABLE][NR];
    memset(acc, 0, sizeof acc);
    for (int p = 0; p < kp; p++) {
        const int16_t *bp = b + (size_t)p * NR * 2;
        for (int r = 0; r < MR_PORTABLE; r++) {
            const uint32_t w = a[(size_t)r * kp + p];
            const int32_t a0 = (int16_t)(uint16_t)(w & 0xffff), a1 = (int16_t)(uint16_t)(w >> 16);
            for (int c = 0; c < NR; c++) acc[r][c] += a0 * bp[2 * c] + a1 * bp[2 * c + 1];
        }
    }
    memcpy(t, acc, sizeof acc);
}

#ifdef AT_X86

/* ---- AVX2: 6 rows x 16 columns, twelve 8-lane accumulators ---------------------------------- */

__attribute__((target("avx2")))
static void tile_avx2(int kp, const pair_word *a, const int16_t *b, int32_t *t) {
    __m256i acc[MR_AVX2][2];
    for (int r = 0; r < MR_AVX2; r++) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (int p = 0; p < kp; p++) {
        const __m256i b0 = _mm256_load_si256((const __m256i *)(b + (size_t)p * NR * 2));
        const __m256i b1 = _mm256_load_si256((const __m256i *)(b + (size_t)p * NR * 2 + 16));
        for (int r = 0; r < MR_AVX2; r++) {
            const __m256i x = _mm256_set1_epi32((int32_t)a[(size_t)r * kp + p]);
            acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(x, b0));
            acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(x, b1));
        }
    }
    for (int r = 0; r < MR_AVX2; r++) {
        _mm256_storeu_si256((__m256i *)(t + r * NR), acc[r][0]);
        _mm256_storeu_si256((__m256i *)(t + r * NR + 8), acc[r][1]);
    }
}

/* One row (a batch of one sample): the four column groups' sums split over two depth phases so
 * that eight accumulators hide the multiply-add latency. */
__attribute__((target("avx2")))
static void row_avx2(int kp, const pair_word *a, const int16_t *b, int32_t *t) {
    __m256i acc[2][2];
    for (int h = 0; h < 2; h++) acc[h][0] = acc[h][1] = _mm256_setzero_si256();
    int p = 0;
    for (; p + 2 <= kp; p += 2)
        for (int h = 0; h < 2; h++) {
            const __m256i x = _mm256_set1_epi32((int32_t)a[p + h]);
            const int16_t *bp = b + (size_t)(p + h) * NR * 2;
            acc[h][0] = _mm256_add_epi32(acc[h][0], _mm256_madd_epi16(x, _mm256_load_si256((const __m256i *)bp)));
            acc[h][1] = _mm256_add_epi32(acc[h][1], _mm256_madd_epi16(x, _mm256_load_si256((const __m256i *)(bp + 16))));
        }
    if (p < kp) {
        const __m256i x = _mm256_set1_epi32((int32_t)a[p]);
        const int16_t *bp = b + (size_t)p * NR * 2;
        acc[0][0] = _mm256_add_epi32(acc[0][0], _mm256_madd_epi16(x, _mm256_load_si256((const __m256i *)bp)));
        acc[0][1] = _mm256_add_epi32(acc[0][1], _mm256_madd_epi16(x, _mm256_load_si256((const __m256i *)(bp + 16))));
    }
    _mm256_storeu_si256((__m256i *)t, _mm256_add_epi32(acc[0][0], acc[1][0]));
    _mm256_storeu_si256((__m256i *)(t + 8), _mm256_add_epi32(acc[0][1], acc[1][1]));
}

/* ---- AVX-512BW: 12 rows x 16 columns, one 16-lane accumulator per row ------------------------ */

__attribute__((target("avx512f,avx512bw")))
static void tile_avx512bw(int kp, const pair_word *a, const int16_t *b, int32_t *t) {
    __m512i acc[MR_AVX512];
    for (int r = 0; r < MR_AVX512; r++) acc[r] = _mm512_setzero_si512();
    for (int p = 0; p < kp; p++) {
        const __m512i bv = _mm512_load_si512((const void *)(b + (size_t)p * NR * 2));
        for (int r = 0; r < MR_AVX512; r++)
            acc[r] = _mm512_add_epi32(acc[r], _mm512_madd_epi16(_mm512_set1_epi32((int32_t)a[(size_t)r * kp + p]), bv));
    }
    for (int r = 0; r < MR_AVX512; r++) _mm512_storeu_si512((void *)(t + r * NR), acc[r]);
}

/* ---- AVX-512 VNNI: as AVX-512BW, the multiply and the add fused in vpdpwssd ------------------ */

__attribute__((target("avx512f,avx512bw,avx512vnni")))
static void tile_avx512vnni(int kp, const pair_word *a, const int16_t *b, int32_t *t) {
    __m512i acc[MR_AVX512];
    for (int r = 0; r < MR_AVX512; r++) acc[r] = _mm512_setzero_si512();
    for (int p = 0; p < kp; p++) {
        const __m512i bv = _mm512_load_si512((const void *)(b + (size_t)p * NR * 2));
        for (int r = 0; r < MR_AVX512; r++)
            acc[r] = _mm512_dpwssd_epi32(acc[r], _mm512_set1_epi32((int32_t)a[(size_t)r * kp + p]), bv);
    }
    for (int r = 0; r < MR_AVX512; r++) _mm512_storeu_si512((void *)(t + r * NR), acc[r]);
}

#endif

void at_i8_gemm(int set, int m, int k, const int8_t *a, ptrdiff_t lda, const int16_t *packed, int n,
                int panel_begin, int panel_end, int32_t *c, float *y, ptrdiff_t ldc,
                const at_i8_requant *requant) {
    if (m <= 0 || panel_begin >= panel_end) return;
    int mr = MR_PORTABLE;
    tile_kernel tile = tile_portable;
#ifdef AT_X86
    switch (set) {
    case AT_KERNELS_AVX2: mr = MR_AVX2; tile = tile_avx2; break;
    case AT_KERNELS_AVX512BW: mr = MR_AVX512; tile = tile_avx512bw; break;
    case AT_KERNELS_AVX512VNNI: mr = MR_AVX512; tile = tile_avx512vnni; break;
    default: break;
    }
    /* A single row reads each weight once: the AVX2 row kernel is as fast on AVX-512 machines. */
    if (m == 1 && set >= AT_KERNELS_AVX2) { mr = 1; tile = row_avx2; }
#endif
    const int kp = pairs(k);
    int16_t *rows = aligned_alloc(64, ((size_t)kp * mr * 2 * sizeof(int16_t) + 63) / 64 * 64 + 64);
    int32_t tile_sums[MR_AVX512 * NR] __attribute__((aligned(64)));
    for (int r0 = 0; r0 < m; r0 += mr) {
        const int valid = m - r0 < mr ? m - r0 : mr;
        pack_rows(mr, valid, k, a + (ptrdiff_t)r0 * lda, lda, rows);
        for (int j = panel_begin; j < panel_end; j++) {
            const int column = j * NR, cols = n - column < NR ? n - column : NR;
            tile(kp, (const pair_word *)rows, packed + (size_t)j * kp * NR * 2, tile_sums);
            store_tile(tile_sums, valid, cols, column, c ? c + (ptrdiff_t)r0 * ldc : NULL,
                       y ? y + (ptrdiff_t)r0 * ldc : NULL, ldc, requant);
        }
    }
    free(rows);
}

/* n bytes from src to dst: 16 at a time, the last 16 overlapping the ones before, or one at a
 * time when there are fewer than 16 (a window row of a few channels). */
static inline void copy_run(int8_t *restrict dst, const int8_t *restrict src, int n) {
    if (n < 16) {
        for (int i = 0; i < n; i++) dst[i] = src[i];
        return;
    }
    typedef struct { uint64_t lo, hi; } __attribute__((may_alias, aligned(1))) bytes16;
    int i = 0;
    for (; i + 16 <= n; i += 16) *(bytes16 *)(dst + i) = *(const bytes16 *)(src + i);
    if (i < n) *(bytes16 *)(dst + n - 16) = *(const bytes16 *)(src + n - 16);
}

void at_i8_im2col(const int8_t *x, int height, int width, int channels, int kernel, int stride, int padding,
                  int out_height, int out_width, int8_t pad, int first_row, int rows, int8_t *col) {
    const int run = kernel * channels, depth = kernel * run, pixels = out_height * out_width;
    /* The output pixel (b, oy, ox) of row first_row, then stepped along without dividing. */
    int b = first_row / pixels, oy = first_row % pixels / out_width, ox = first_row % out_width;
    for (int r = 0; r < rows; r++) {
        const int ix0 = ox * stride - padding;
        /* Taps [lo, hi) of a window row fall inside the image: in NHWC they are one contiguous run. */
        const int lo = ix0 < 0 ? (-ix0 < kernel ? -ix0 : kernel) : 0;
        const int hi = width - ix0 < kernel ? (width - ix0 > lo ? width - ix0 : lo) : kernel;
        const int n = (hi - lo) * channels;
        int8_t *d = col + (ptrdiff_t)r * depth;
        for (int ky = 0; ky < kernel; ky++, d += run) {
            const int iy = oy * stride - padding + ky;
            if (iy < 0 || iy >= height) {
                memset(d, pad, (size_t)run);
                continue;
            }
            if (lo > 0) memset(d, pad, (size_t)(lo * channels));
            copy_run(d + lo * channels, x + ((ptrdiff_t)(b * height + iy) * width + ix0 + lo) * channels, n);
            if (hi < kernel) memset(d + hi * channels, pad, (size_t)((kernel - hi) * channels));
        }
        if (++ox == out_width) {
            ox = 0;
            if (++oy == out_height) { oy = 0; b++; }
        }
    }
}
