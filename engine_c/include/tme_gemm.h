/* CONV_2D and FULLY_CONNECTED as matrix products, specialised per layer.
 *
 * out[r][oc] = epilogue(bias'[oc] + sum_k a[r][k] * w[oc][k])
 *
 * - Row r of `a` holds what output pixel r (or batch r of a fully connected layer) reads: the
 *   pixel itself for a 1x1 stride-1 convolution, its window in the weights' (ky, kx, c) order
 *   otherwise (im2col). Every value is stored as x + 128 (x ^ 0x80, an unsigned byte); a padding
 *   tap holds the input zero point + 128. Rows are built a block at a time in scratch memory.
 * - The converter folds the input offset into the bias: bias'[oc] = bias[oc] - (zero point +
 *   128) * sum_k w[oc][k] (wrapping int32). Then sum_k (x - zp) * w + bias equals
 *   sum_k (x + 128) * w + bias' exactly, padding taps cancel, and the inner loop is a plain
 *   product of unsigned by signed bytes (what compilers vectorise best, and what one Arm SMLAD
 *   does twice per instruction). TFLite Micro's own sum is the same integer: its order of
 *   additions does not matter (the converter rejects weights whose sums could overflow int32).
 * - Weights are [out_c][k4], each row zero-padded to k4, a multiple of 4.
 * - The epilogue is TFLite Micro's: per-channel requantization, output offset, activation
 *   clamp, and the residual ADD when one is fused.
 *
 * Write order: a block of rows (4, or 2 on the DSP path) is copied into scratch before any of
 * its outputs is written, and output pixels are written in raster order: an output may
 * overwrite the windows of the pixels before it (see ops/base.py, raster_window_slack). A fused
 * residual's skip element is read just before the output element at the same index. (The DSP
 * assembly loop takes the last of an odd count of rows with the row before it again, still in
 * scratch: that row's outputs are written twice, the same bytes; never with a residual.)
 *
 * Called through one small function per layer with a `static const` tme_gemm_params: the
 * compiler folds every field into the inlined copy (trip counts, strides, offsets, clamps).
 */
#ifndef TME_GEMM_H
#define TME_GEMM_H

#include "tme_add.h"
#include "tme_common.h"

typedef struct {
  int32_t rows;                 /* output pixels (out_h * out_w), or batches */
  int32_t k;                    /* values per row: k_h * k_w * in_c */
  int32_t k4;                   /* k rounded up to a multiple of 4: row stride of weights, scratch */
  int32_t out_c;
  int32_t im2col;               /* 0: row r is input bytes [r * k, (r + 1) * k) */
  int32_t in_h, in_w, in_c, out_w;
  int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
  int32_t pad_value;            /* input zero point + 128: a padding tap */
  int32_t out_offset, act_min, act_max;
  int32_t right_shift;          /* 1: tme_requant_right, the shifts stored as -shift - 2 */
} tme_gemm_params;

/* Rows of a block: 4 on the portable path (each weight row meets 4 input rows per pass), 2 on
 * the DSP path (where rows hold 16-bit values). Either way the scratch holds 4 * k4 bytes
 * (2 * k4 when there is a single row). */
#define TME_GEMM_ROWS 4
#define TME_GEMM_OC_BLOCK 64

/* Row r as unsigned bytes x + 128, zero-padded to k4. */
TME_INLINE void tme_gemm_row_u8(const tme_gemm_params *p, const int8_t *in, int32_t r,
                                uint8_t *dst) {
  if (!p->im2col) {
    const int8_t *src = in + (size_t)r * (size_t)p->k;
    for (int32_t k = 0; k < p->k; ++k) dst[k] = (uint8_t)((uint8_t)src[k] ^ 0x80u);
  } else {
    const int32_t oy = r / p->out_w, ox = r - oy * p->out_w;
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    const int32_t run = p->k_w * p->in_c;  /* one row of the window */
    const int row_inside = ix0 >= 0 && ix0 + (p->k_w - 1) * p->dil_w < p->in_w;
    uint8_t *d = dst;
    for (int32_t ky = 0; ky < p->k_h; ++ky, d += run) {
      const int32_t iy = iy0 + ky * p->dil_h;
      if (iy < 0 || iy >= p->in_h) {
        for (int32_t j = 0; j < run; ++j) d[j] = (uint8_t)p->pad_value;
      } else if (p->dil_w == 1 && row_inside) {  /* one run of bytes */
        const int8_t *src = in + ((size_t)iy * (size_t)p->in_w + (size_t)ix0) * (size_t)p->in_c;
        int32_t j = 0;
#if TME_DSP  /* a word at a time (vector hosts vectorise the byte loop) */
        for (; j + 4 <= run; j += 4) tme_store32(d + j, tme_load32(src + j) ^ 0x80808080u);
#endif
        for (; j < run; ++j) d[j] = (uint8_t)((uint8_t)src[j] ^ 0x80u);
      } else {
        for (int32_t kx = 0; kx < p->k_w; ++kx) {
          const int32_t ix = ix0 + kx * p->dil_w;
          uint8_t *dc = d + kx * p->in_c;
          if (ix < 0 || ix >= p->in_w) {
            for (int32_t c = 0; c < p->in_c; ++c) dc[c] = (uint8_t)p->pad_value;
          } else {
            const int8_t *src = in + ((size_t)iy * (size_t)p->in_w + (size_t)ix) * (size_t)p->in_c;
            for (int32_t c = 0; c < p->in_c; ++c) dc[c] = (uint8_t)((uint8_t)src[c] ^ 0x80u);
          }
        }
      }
    }
  }
  for (int32_t k = p->k; k < p->k4; ++k) dst[k] = 0;
}

#if TME_DSP

/* The requantized value of one output from its sum, the bias included (the sums start at the
 * bias: int32 sums wrap, so the order of additions does not matter). */
TME_INLINE int8_t tme_gemm_q(const tme_gemm_params *p, int32_t acc, int32_t mult,
                             int32_t shift) {
  return tme_requant_s8(acc, mult, shift, p->out_offset, p->act_min, p->act_max,
                        p->right_shift);
}

/* Stores the n requantized values q of a block with a fused residual: q[i] at
 * (i < per_row ? at0 : at1) + i % per_row. One loop for the block's main part and its odd
 * channel (unrolled: n is at most 4), rather than the ADD written out at every store. */
TME_INLINE void tme_gemm_residual(const tme_residual_params *residual, const int8_t *skip,
                                  const int8_t *q, size_t at0, size_t at1, int32_t n,
                                  int32_t per_row, int8_t *out) {
  TME_PRAGMA_(GCC unroll 4)
  for (int32_t i = 0; i < n; ++i) {
    const size_t at = (i < per_row ? at0 : at1) + (size_t)(i % per_row);
    out[at] = tme_residual_element(residual, q[i], skip[at]);
  }
}

/* DSP path: a row holds 16-bit values, 4 at a time as two words (a0, a2) and (a1, a3), the
 * lanes SXTB16 and SXTB16 ROR 8 extract from 4 weight bytes; two SMLADs add 4 products. */
/* n (a multiple of 4) input values at src as x + 128, widened to the row's 16-bit lanes. */
#define TME_GEMM_WIDEN4_(i)                                                                     \
  do {                                                                                          \
    const uint32_t v = tme_load32(src + (i)) ^ 0x80808080u;                                     \
    tme_store32(dst + 2 * (i), tme_uxtb16(v));                                                  \
    tme_store32(dst + 2 * (i) + 4, tme_uxtb16_ror8(v));                                         \
  } while (0)
TME_INLINE void tme_gemm_widen4(const int8_t *src, int32_t n, uint8_t *dst) {
  for (int32_t i = 0; i < n; i += 4) TME_GEMM_WIDEN4_(i);
}
/* The same without a loop when n <= 32 (the two pixels of a 1x1 layer with few channels). */
TME_INLINE void tme_gemm_widen4_short(const int8_t *src, int32_t n, uint8_t *dst) {
  if (n <= 32) {
    TME_PRAGMA_(GCC unroll 8)
    for (int32_t i = 0; i < n; i += 4) TME_GEMM_WIDEN4_(i);
  } else {
    tme_gemm_widen4(src, n, dst);
  }
}

/* n (a multiple of 4) padding taps. */
TME_INLINE void tme_gemm_pad4(const tme_gemm_params *p, int32_t n, uint8_t *dst) {
  const uint32_t pad = (uint32_t)p->pad_value * 0x00010001u;
  for (int32_t i = 0; i < n; i += 4) {
    tme_store32(dst + 2 * i, pad);
    tme_store32(dst + 2 * i + 4, pad);
  }
}

TME_INLINE void tme_gemm_row_s16(const tme_gemm_params *p, const int8_t *in, int32_t r,
                                 uint8_t *dst) {
  if (!p->im2col && p->k % 4 == 0) {  /* a whole pixel, 4 values at a time */
    tme_gemm_widen4(in + (size_t)r * (size_t)p->k, p->k, dst);
    return;
  }
  if (p->im2col && p->in_c % 4 == 0) {  /* im2col, a pixel's channels 4 at a time */
    const int32_t oy = r / p->out_w, ox = r - oy * p->out_w;
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    const int32_t run = p->k_w * p->in_c;
    const int row_inside = ix0 >= 0 && ix0 + (p->k_w - 1) * p->dil_w < p->in_w;
    uint8_t *d = dst;
    for (int32_t ky = 0; ky < p->k_h; ++ky, d += 2 * run) {
      const int32_t iy = iy0 + ky * p->dil_h;
      if (iy < 0 || iy >= p->in_h) {
        tme_gemm_pad4(p, run, d);
      } else if (p->dil_w == 1 && row_inside) {
        tme_gemm_widen4(in + ((size_t)iy * (size_t)p->in_w + (size_t)ix0) * (size_t)p->in_c,
                        run, d);
      } else {
        for (int32_t kx = 0; kx < p->k_w; ++kx) {
          const int32_t ix = ix0 + kx * p->dil_w;
          if (ix < 0 || ix >= p->in_w)
            tme_gemm_pad4(p, p->in_c, d + 2 * kx * p->in_c);
          else
            tme_gemm_widen4(in + ((size_t)iy * (size_t)p->in_w + (size_t)ix) * (size_t)p->in_c,
                            p->in_c, d + 2 * kx * p->in_c);
        }
      }
    }
    return;  /* k == k4: k is a multiple of in_c */
  }
  /* other channel counts: the bytes first, then widened in place from the end (the words of
   * group g land on bytes of groups >= g) */
  const int32_t oy = r / p->out_w, ox = r - oy * p->out_w;
  const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
  if (p->im2col && p->dil_w == 1 && iy0 >= 0 && iy0 + (p->k_h - 1) * p->dil_h < p->in_h &&
      ix0 >= 0 && ix0 + p->k_w - 1 < p->in_w) {  /* the window inside: runs without checks */
    const int32_t run = p->k_w * p->in_c;
    const int8_t *src = in + ((size_t)iy0 * (size_t)p->in_w + (size_t)ix0) * (size_t)p->in_c;
    TME_PRAGMA_(GCC unroll 4)
    for (int32_t ky = 0; ky < p->k_h; ++ky) {
      const int8_t *s = src + (size_t)(ky * p->dil_h) * (size_t)p->in_w * (size_t)p->in_c;
      uint8_t *d = dst + ky * run;
      int32_t j = 0;
      for (; j + 4 <= run; j += 4) tme_store32(d + j, tme_load32(s + j) ^ 0x80808080u);
      for (; j < run; ++j) d[j] = (uint8_t)((uint8_t)s[j] ^ 0x80u);
    }
    for (int32_t k = p->k; k < p->k4; ++k) dst[k] = 0;
  } else {
    tme_gemm_row_u8(p, in, r, dst);
  }
  TME_PRAGMA_(GCC unroll 8)  /* (a first layer's short rows: no loop) */
  for (int32_t g = p->k4 / 4 - 1; g >= 0; --g) {
    const uint32_t v = tme_load32(dst + 4 * g);
    tme_store32(dst + 8 * g, tme_uxtb16(v));
    tme_store32(dst + 8 * g + 4, tme_uxtb16_ror8(v));
  }
}

/* 4 values of k for 2 rows x 2 channels: 4 loads (the rows' words two at a time), 4 extends,
 * 8 SMLADs (16 MACs). */
#define TME_GEMM_STEP_2X2(k)                                                                    \
  do {                                                                                          \
    uint32_t xa, xb, ya, yb;                                                                    \
    tme_load64(a0 + 2 * (k), &xa, &xb);                                                         \
    tme_load64(a1 + 2 * (k), &ya, &yb);                                                         \
    uint32_t v = tme_load32(w0 + (k));                                                          \
    uint32_t lo = tme_sxtb16(v), hi = tme_sxtb16_ror8(v);                                       \
    s00 = tme_smlad(xa, lo, s00);                                                               \
    s10 = tme_smlad(ya, lo, s10);                                                               \
    s00 = tme_smlad(xb, hi, s00);                                                               \
    s10 = tme_smlad(yb, hi, s10);                                                               \
    v = tme_load32(w1 + (k));                                                                   \
    lo = tme_sxtb16(v);                                                                         \
    hi = tme_sxtb16_ror8(v);                                                                    \
    s01 = tme_smlad(xa, lo, s01);                                                               \
    s11 = tme_smlad(ya, lo, s11);                                                               \
    s01 = tme_smlad(xb, hi, s01);                                                               \
    s11 = tme_smlad(yb, hi, s11);                                                               \
  } while (0)

/* The same step in one block of Cortex-M assembly, the pointers walking on: pa (row 0), pb
 * (row 1) and pw (channel 0; channel 1 is k4 bytes on). As one block the compiler cannot
 * interleave steps, so the 4 sums and the step's 6 values stay in registers. Row 1 is read 2 * k4
 * bytes past row 0 when that fits LDRD's offset (k4 <= 512: pb is not used), through pb
 * otherwise. k4 must be a compile-time constant (always when optimising), at most 4092. */
#if defined(__ARM_FEATURE_DSP) && !defined(TME_EMULATE_DSP) && defined(__OPTIMIZE__)
#define TME_GEMM_ASM_K4_MAX 4092
#define TME_GEMM_ASM_UNROLLED_K 32  /* rows of at most this many values: the steps unrolled */
#define TME_GEMM_ASM_LOOP_K 512  /* TME_GEMM_ASM_LOOP_K_ takes rows of at most this many values */
#define TME_UNPAREN_(...) __VA_ARGS__
/* One step (4 values of k, 16 MACs) reading the rows at A0 and A1, the weights at W1 and W0. */
#define TME_GEMM_ASM_STEP_(A0, A1, W1, W0)                                                     \
  "ldrd %[xa], %[xb], " A0 "\n\t"                                                               \
  "ldrd %[ya], %[yb], " A1 "\n\t"                                                               \
  "ldr %[lo], " W1 "\n\t"                                                                       \
  "sxtb16 %[hi], %[lo], ror #8\n\t"                                                             \
  "sxtb16 %[lo], %[lo]\n\t"                                                                     \
  "smlad %[s01], %[xa], %[lo], %[s01]\n\t"                                                      \
  "smlad %[s11], %[ya], %[lo], %[s11]\n\t"                                                      \
  "smlad %[s01], %[xb], %[hi], %[s01]\n\t"                                                      \
  "smlad %[s11], %[yb], %[hi], %[s11]\n\t"                                                      \
  "ldr %[lo], " W0 "\n\t"                                                                       \
  "sxtb16 %[hi], %[lo], ror #8\n\t"                                                             \
  "sxtb16 %[lo], %[lo]\n\t"                                                                     \
  "smlad %[s00], %[xa], %[lo], %[s00]\n\t"                                                      \
  "smlad %[s10], %[ya], %[lo], %[s10]\n\t"                                                      \
  "smlad %[s00], %[xb], %[hi], %[s00]\n\t"                                                      \
  "smlad %[s10], %[yb], %[hi], %[s10]\n\t"
#define TME_GEMM_ASM_(A1, PB_OPERAND, PB_MEMORY, K)                                             \
  do {                                                                                          \
    uint32_t xa_, xb_, ya_, yb_, lo_, hi_;                                                      \
    __asm__(TME_GEMM_ASM_STEP_("[%[pa]], #8", A1, "[%[pw], %[w1]]", "[%[pw]], #4")            \
            : [s00] "+r"(s00), [s01] "+r"(s01), [s10] "+r"(s10), [s11] "+r"(s11),               \
              [pa] "+r"(pa), [pw] "+r"(pw), [xa] "=&r"(xa_), [xb] "=&r"(xb_), [ya] "=&r"(ya_),   \
              [yb] "=&r"(yb_), [lo] "=&r"(lo_), [hi] "=&r"(hi_) TME_UNPAREN_ PB_OPERAND         \
            : [w1] "i"(K), [row1] "i"(2 * (K) - 8), "m"(*(const uint8_t(*)[8])(pa)),            \
              "m"(*(const int8_t(*)[4])(pw)), "m"(*(const int8_t(*)[4])((pw) + (K))),           \
              "m"(PB_MEMORY));                                                                  \
  } while (0)
#define TME_GEMM_STEP_2X2_NEAR(pa, pw, K)                                                      \
  TME_GEMM_ASM_("[%[pa], %[row1]]", (),                                                       \
                *(const uint8_t(*)[8])((pa) + 2 * (K)), K)
#define TME_GEMM_STEP_2X2_FAR(pa, pb, pw, K)                                                   \
  TME_GEMM_ASM_("[%[pb]], #8", (, [pb] "+r"(pb)),                                            \
                *(const uint8_t(*)[8])(pb), K)
/* A row pair times every channel pair, the epilogue included, as one loop of assembly, for
 * layers without a fused residual, with a right shift (tme_requant_right) and no clamp besides
 * the int8 range. As one block the compiler cannot spill around it: the pointers stay in
 * registers and the 10 values of a step are reused for the epilogue (the C loop spends about
 * 12 to 30 instructions more per 2x2 block). Rows at a and a + 2 * K, the weights [OC][K],
 * outputs at po and po + OC, c = 2 * out_offset + 1; the shifts de[0] bytes after po (both
 * walk 2 bytes per pair: one pointer in memory for the two), the loop's end de[1] (pb's).
 * - TME_GEMM_ASM_LOOP_UNROLLED_: k4 <= TME_GEMM_ASM_UNROLLED_K, the steps written out.
 * - TME_GEMM_ASM_LOOP_K_: a loop along k, U steps at a time (a walks and is set back; the
 *   multipliers' pointer waits in memory for the loop's end register). */
#define TME_GEMM_ASM_LOOP 1
/* The first step of the unrolled loop (k = K0): the sums of row 1 start from those of row 0,
 * the biases (their first SMLADs read them before row 0's). */
#define TME_GEMM_ASM_STEP0_(K0)                                                                 \
  "ldrd %[xa], %[xb], [%[a], #2 * " K0 "]\n\t"                                                  \
  "ldrd %[ya], %[yb], [%[a], #2 * " K0 " + 2 * %c[k]]\n\t"                                      \
  "ldr %[lo], [%[pw], #" K0 " + %c[k]]\n\t"                                                     \
  "sxtb16 %[hi], %[lo], ror #8\n\t"                                                             \
  "sxtb16 %[lo], %[lo]\n\t"                                                                     \
  "smlad %[s11], %[ya], %[lo], %[s01]\n\t"                                                      \
  "smlad %[s01], %[xa], %[lo], %[s01]\n\t"                                                      \
  "smlad %[s01], %[xb], %[hi], %[s01]\n\t"                                                      \
  "smlad %[s11], %[yb], %[hi], %[s11]\n\t"                                                      \
  "ldr %[lo], [%[pw], #" K0 "]\n\t"                                                             \
  "sxtb16 %[hi], %[lo], ror #8\n\t"                                                             \
  "sxtb16 %[lo], %[lo]\n\t"                                                                     \
  "smlad %[s10], %[ya], %[lo], %[s00]\n\t"                                                      \
  "smlad %[s00], %[xa], %[lo], %[s00]\n\t"                                                      \
  "smlad %[s00], %[xb], %[hi], %[s00]\n\t"                                                      \
  "smlad %[s10], %[yb], %[hi], %[s10]\n\t"
/* The sums start at the biases. */
#define TME_GEMM_ASM_BIAS_                                                                      \
  "ldrd %[s00], %[s01], [%[pb]], #8\n\t"                                                        \
  "mov %[s10], %[s00]\n\t"                                                                      \
  "mov %[s11], %[s01]\n\t"
/* One output: tme_requant_right of sum S, the output offset added, saturated to int8, into S.
 * tme_requant_right's hi is Y >> 1 for Y = floor((2 * S * m + 2^31) / 2^32) - [S < 0], and
 * with M = 2 * m - 2^32 (m in [2^30, 2^31): M is 2m as a 32-bit value) Y is one SMMLAR,
 * (A * 2^32 + S * M + 2^31) >> 32 with A = S - [S < 0]: the S * 2^32 terms cancel (modulo
 * 2^32, and Y fits). Then hi >> s = Y >> (s + 1), the shift in xb's bottom byte. */
#define TME_GEMM_ASM_Q_(S, M)                                                                   \
  "add %[yb], %[" S "], %[" S "], asr #31\n\t"                                                  \
  "smmlar %[yb], %[" S "], %[" M "], %[yb]\n\t"                                                 \
  "asr %[yb], %[yb], %[xb]\n\t"                                                                 \
  "add %[yb], %[yb], #%c[c]\n\t"                                                                \
  "ssat %[" S "], #8, %[yb], asr #1\n\t"
/* The 4 outputs of the block (the multipliers already in lo, hi), the loop's end. */
#define TME_GEMM_ASM_EPILOGUE_                                                                  \
  "lsl %[lo], %[lo], #1\n\t"                                                                    \
  "lsl %[hi], %[hi], #1\n\t"                                                                    \
  "ldr %[xa], %[po]\n\t"                                                                        \
  "ldrd %[xb], %[ya], %[de]\n\t" /* dsh, end */                                                 \
  "ldrh %[xb], [%[xa], %[xb]]\n\t" /* the shifts, dsh bytes after the outputs */                \
  "add %[xb], %[xb], #0x101\n\t" /* s + 1 in both bytes */                                      \
  TME_GEMM_ASM_Q_("s00", "lo")                                                                  \
  TME_GEMM_ASM_Q_("s10", "lo")                                                                  \
  "lsr %[xb], %[xb], #8\n\t"                                                                    \
  TME_GEMM_ASM_Q_("s01", "hi")                                                                  \
  TME_GEMM_ASM_Q_("s11", "hi")                                                                  \
  "strb %[s01], [%[xa], #1]\n\t"                                                                \
  "strb %[s10], [%[xa], #%c[oc]]\n\t"                                                           \
  "strb %[s11], [%[xa], #%c[oc] + 1]\n\t"                                                       \
  "strb %[s00], [%[xa]], #2\n\t"                                                                \
  "str %[xa], %[po]\n\t"                                                                        \
  "cmp %[pb], %[ya]\n\t"                                                                        \
  "bne 1b"
#define TME_GEMM_ASM_TEMPS_                                                                     \
  [s00] "=&r"(s00_), [s01] "=&r"(s01_), [s10] "=&r"(s10_), [s11] "=&r"(s11_), [xa] "=&r"(xa_), \
  [xb] "=&r"(xb_), [ya] "=&r"(ya_), [yb] "=&r"(yb_), [lo] "=&r"(lo_), [hi] "=&r"(hi_)
#define TME_GEMM_ASM_LOOP_UNROLLED_(K, OC, C)                                                  \
  __asm__ volatile(                                                                             \
      "1:\n\t"                                                                                  \
      "ldrd %[s00], %[s01], [%[pb]], #8\n\t"                                                    \
      /* the last step first, the first one last (its load of channel 0 moves pw on) */        \
      TME_GEMM_ASM_STEP0_("(%c[k] - 4)")                                                        \
      ".if %c[k] > 4\n\t"                                                                       \
      ".set tme_gemm_k_, 4\n\t"                                                                 \
      ".rept %c[k] / 4 - 2\n\t"                                                                 \
      TME_GEMM_ASM_STEP_("[%[a], #2 * tme_gemm_k_]", "[%[a], #2 * tme_gemm_k_ + 2 * %c[k]]",     \
                         "[%[pw], #tme_gemm_k_ + %c[k]]", "[%[pw], #tme_gemm_k_]")               \
      ".set tme_gemm_k_, tme_gemm_k_ + 4\n\t"                                                   \
      ".endr\n\t"                                                                               \
      TME_GEMM_ASM_STEP_("[%[a]]", "[%[a], #2 * %c[k]]", "[%[pw], #%c[k]]",                     \
                         "[%[pw]], #2 * %c[k]")                                                 \
      ".else\n\t"                                                                               \
      "add %[pw], %[pw], #2 * %c[k]\n\t"                                                        \
      ".endif\n\t"                                                                              \
      "ldrd %[lo], %[hi], [%[pm]], #8\n\t"                                                      \
      TME_GEMM_ASM_EPILOGUE_                                                                    \
      : TME_GEMM_ASM_TEMPS_, [pw] "+r"(pw_), [pb] "+r"(pb_), [pm] "+r"(pm_), [po] "+m"(po_)    \
      : [a] "r"(a_), [de] "m"(de_), [k] "i"(K), [oc] "i"(OC), [c] "i"(C)                        \
      : "cc", "memory")
#define TME_GEMM_ASM_LOOP_K_(K, OC, C, U)                                                      \
  __asm__ volatile(                                                                             \
      "1:\n\t"                                                                                  \
      TME_GEMM_ASM_BIAS_                                                                        \
      "add %[ke], %[a], #2 * %c[k]\n\t"                                                         \
      "2:\n\t"                                                                                  \
      ".rept %c[u]\n\t"                                                                         \
      TME_GEMM_ASM_STEP_("[%[a]], #8", "[%[a], #2 * %c[k] - 8]", "[%[pw], #%c[k]]",              \
                         "[%[pw]], #4")                                                         \
      ".endr\n\t"                                                                               \
      "cmp %[a], %[ke]\n\t"                                                                     \
      "bne 2b\n\t"                                                                              \
      "sub %[a], %[a], #2 * %c[k]\n\t"                                                          \
      "add %[pw], %[pw], #%c[k]\n\t"                                                            \
      "ldr %[xa], %[pm]\n\t"                                                                    \
      "ldrd %[lo], %[hi], [%[xa]], #8\n\t"                                                      \
      "str %[xa], %[pm]\n\t"                                                                    \
      TME_GEMM_ASM_EPILOGUE_                                                                    \
      : TME_GEMM_ASM_TEMPS_, [ke] "=&r"(ke_), [a] "+r"(a_), [pw] "+r"(pw_), [pb] "+r"(pb_),     \
        [pm] "+m"(pm_), [po] "+m"(po_)                                                          \
      : [de] "m"(de_), [k] "i"(K), [oc] "i"(OC), [c] "i"(C), [u] "i"(U)                         \
      : "cc", "memory")
/* One row (a fully connected layer) times channels w0 and w0 + K, the loop along k in the
 * assembly, U steps of 8 MACs at a time: s0, s1 += the products. */
#define TME_GEMM_ASM_ROW1_K4_MAX 2044
#define TME_GEMM_ASM_ROW1_(a0, w0, K, U)                                                        \
  do {                                                                                          \
    const uint8_t *pa_ = (a0);                                                                  \
    const int8_t *pw_ = (w0);                                                                   \
    uint32_t xa_, xb_, l0_, h0_, l1_, h1_, ke_;                                                 \
    __asm__("add %[ke], %[a], #2 * %c[k]\n\t"                                                   \
            "2:\n\t"                                                                            \
            ".rept %c[u]\n\t"                                                                   \
            "ldrd %[xa], %[xb], [%[a]], #8\n\t"                                                 \
            "ldr %[l1], [%[pw], #%c[k]]\n\t"                                                    \
            "ldr %[l0], [%[pw]], #4\n\t"                                                        \
            "sxtb16 %[h1], %[l1], ror #8\n\t"                                                   \
            "sxtb16 %[l1], %[l1]\n\t"                                                           \
            "sxtb16 %[h0], %[l0], ror #8\n\t"                                                   \
            "sxtb16 %[l0], %[l0]\n\t"                                                           \
            "smlad %[s1], %[xa], %[l1], %[s1]\n\t"                                              \
            "smlad %[s1], %[xb], %[h1], %[s1]\n\t"                                              \
            "smlad %[s0], %[xa], %[l0], %[s0]\n\t"                                              \
            "smlad %[s0], %[xb], %[h0], %[s0]\n\t"                                              \
            ".endr\n\t"                                                                         \
            "cmp %[a], %[ke]\n\t"                                                               \
            "bne 2b"                                                                            \
            : [s0] "+r"(s00), [s1] "+r"(s01), [xa] "=&r"(xa_), [xb] "=&r"(xb_),                 \
              [l0] "=&r"(l0_), [h0] "=&r"(h0_), [l1] "=&r"(l1_), [h1] "=&r"(h1_),               \
              [ke] "=&r"(ke_), [a] "+r"(pa_), [pw] "+r"(pw_)                                    \
            : [k] "i"(K), [u] "i"(U), "m"(*(const uint8_t(*)[2 * (K)])(a0)),                    \
              "m"(*(const int8_t(*)[2 * (K)])(w0))                                              \
            : "cc");                                                                            \
  } while (0)
#else
#define TME_GEMM_ASM_LOOP 0
#define TME_GEMM_ASM_K4_MAX 0
#define TME_GEMM_ASM_UNROLLED_K 0
#define TME_GEMM_ASM_LOOP_K 0
#define TME_GEMM_ASM_ROW1_K4_MAX 0
#define TME_GEMM_ASM_ROW1_(a0, w0, K, U) do { } while (0)
#define TME_GEMM_STEP_2X2_NEAR(pa, pw, K) do { } while (0)
#define TME_GEMM_STEP_2X2_FAR(pa, pb, pw, K) do { } while (0)
#endif

/* Rows of at most this many values take the product without a loop (a few layers: little
 * code). */
#define TME_GEMM_UNROLLED_K 16

/* Steps (4 values of k each) per pass of the assembly loops along k: as many of 4 as divide
 * the row. */
#define TME_GEMM_ASM_STEPS(k4) ((k4) % 16 == 0 ? 4 : (k4) % 8 == 0 ? 2 : 1)

TME_INLINE void tme_gemm_s8(const tme_gemm_params *p, const int8_t *in, const int8_t *w,
                            const int32_t *bias, const int32_t *mult, const int8_t *shift,
                            const tme_residual_params *residual, const int8_t *skip,
                            uint8_t *scratch, int8_t *out) {
  uint8_t *const a0 = scratch;
  uint8_t *const a1 = scratch + 2 * p->k4;
#if TME_GEMM_ASM_LOOP
  if (p->rows > 1 && p->k4 <= TME_GEMM_ASM_LOOP_K && !residual && p->right_shift &&
      p->act_min == TME_INT8_MIN && p->act_max == TME_INT8_MAX && p->out_c % 2 == 0 &&
      p->out_c < 4095) {  /* (row 1's outputs: a STRB's 12-bit offset) */
    for (int32_t r = 0; r < p->rows; r += 2) {
      int8_t *po_ = out + (size_t)r * (size_t)p->out_c;
      if (r + 1 < p->rows && !p->im2col && p->k % 4 == 0 && p->k > 8) {  /* one run: 2 pixels */
        tme_gemm_widen4_short(in + (size_t)r * (size_t)p->k, 2 * p->k, a0);
      } else if (r + 1 < p->rows) {
        tme_gemm_row_s16(p, in, r, a0);
        tme_gemm_row_s16(p, in, r + 1, a1);
      } else {  /* the last of an odd count, after the row before it again (still in a1): */
        memcpy(a0, a1, 2 * (size_t)p->k4);  /* that row's outputs are rewritten unchanged */
        tme_gemm_row_s16(p, in, r, a1);
        po_ -= p->out_c;
      }
      const uint8_t *a_ = a0;
      const int8_t *pw_ = w;
      const int32_t *pb_ = bias, *pm_ = mult;
      /* the shifts' distance from po, the end of the biases (one LDRD) */
      const uint32_t de_[2] = {(uint32_t)((uintptr_t)shift - (uintptr_t)po_),
                               (uint32_t)(uintptr_t)(bias + p->out_c)};
      uint32_t s00_, s01_, s10_, s11_, xa_, xb_, ya_, yb_, lo_, hi_, ke_;
      if (p->k4 <= TME_GEMM_ASM_UNROLLED_K)
        TME_GEMM_ASM_LOOP_UNROLLED_(p->k4, p->out_c, 2 * p->out_offset + 1);
      else
        TME_GEMM_ASM_LOOP_K_(p->k4, p->out_c, 2 * p->out_offset + 1,
                             TME_GEMM_ASM_STEPS(p->k4));
      (void)s00_, (void)s01_, (void)s10_, (void)s11_, (void)xa_, (void)xb_, (void)ya_;
      (void)yb_, (void)lo_, (void)hi_, (void)ke_;
    }
    return;
  }
#endif
  for (int32_t r = 0; r < p->rows; r += 2) {
    const int two = p->rows > 1 && r + 1 < p->rows;
    tme_gemm_row_s16(p, in, r, a0);
    if (two) tme_gemm_row_s16(p, in, r + 1, a1);
    const size_t o0 = (size_t)r * (size_t)p->out_c, o1 = o0 + (size_t)p->out_c;
    int32_t oc = 0;
    for (; oc + 2 <= p->out_c; oc += 2) {
      const int8_t *w0 = w + (size_t)oc * (size_t)p->k4;
      const int8_t *w1 = w0 + p->k4;
      /* the biases start the sums; the multipliers and shifts are read after the product
       * (fewer live registers) but before any byte store, which may alias anything, even
       * const arrays */
      const int32_t b0 = bias[oc], b1 = bias[oc + 1];
      int32_t s00 = b0, s01 = b1, s10 = b0, s11 = b1;
      if (p->rows > 1 && p->k4 <= TME_GEMM_ASM_K4_MAX) {
        const uint8_t *pa = a0, *pb = a1;
        const int8_t *pw = w0;
        if (p->k4 <= TME_GEMM_ASM_UNROLLED_K) {  /* no loop: 16 instructions per step */
          TME_PRAGMA_(GCC unroll 8)
          for (int32_t k = 0; k < p->k4; k += 4) TME_GEMM_STEP_2X2_NEAR(pa, pw, p->k4);
        } else if (p->k4 <= 512) {
          TME_PRAGMA_(GCC unroll 2)
          for (int32_t k = 0; k < p->k4; k += 4) TME_GEMM_STEP_2X2_NEAR(pa, pw, p->k4);
        } else {
          TME_PRAGMA_(GCC unroll 2)
          for (int32_t k = 0; k < p->k4; k += 4) TME_GEMM_STEP_2X2_FAR(pa, pb, pw, p->k4);
        }
        (void)pa, (void)pb, (void)pw;  /* emulated and unoptimised builds have no assembly */
      } else if (p->rows > 1 && p->k4 <= TME_GEMM_UNROLLED_K) {  /* short rows: no loop at all */
        TME_PRAGMA_(GCC unroll 4)
        for (int32_t k = 0; k < p->k4; k += 4) TME_GEMM_STEP_2X2(k);
      } else if (p->rows > 1) {
        for (int32_t k = 0; k < p->k4; k += 4) TME_GEMM_STEP_2X2(k);
      } else if (p->k4 <= TME_GEMM_ASM_ROW1_K4_MAX) {
        TME_GEMM_ASM_ROW1_(a0, w0, p->k4, TME_GEMM_ASM_STEPS(p->k4));
      } else {
        for (int32_t k = 0; k < p->k4; k += 4) {
          uint32_t xa, xb;
          tme_load64(a0 + 2 * k, &xa, &xb);
          const uint32_t v0 = tme_load32(w0 + k), v1 = tme_load32(w1 + k);
          s00 = tme_smlad(xa, tme_sxtb16(v0), s00);
          s01 = tme_smlad(xa, tme_sxtb16(v1), s01);
          s00 = tme_smlad(xb, tme_sxtb16_ror8(v0), s00);
          s01 = tme_smlad(xb, tme_sxtb16_ror8(v1), s01);
        }
      }
      const int32_t m0 = mult[oc], h0 = shift[oc], m1 = mult[oc + 1], h1 = shift[oc + 1];
      const int8_t q00 = tme_gemm_q(p, s00, m0, h0), q01 = tme_gemm_q(p, s01, m1, h1);
      if (!residual) {
        out[o0 + oc] = q00;
        out[o0 + oc + 1] = q01;
        if (two) {
          out[o1 + oc] = tme_gemm_q(p, s10, m0, h0);
          out[o1 + oc + 1] = tme_gemm_q(p, s11, m1, h1);
        }
      } else {
        const int8_t q[4] = {q00, q01, two ? tme_gemm_q(p, s10, m0, h0) : 0,
                             two ? tme_gemm_q(p, s11, m1, h1) : 0};
        tme_gemm_residual(residual, skip, q, o0 + oc, o1 + oc, two ? 4 : 2, 2, out);
      }
    }
    if (oc < p->out_c) {  /* an odd channel count: the last channel */
      const int8_t *w0 = w + (size_t)oc * (size_t)p->k4;
      const int32_t b0 = bias[oc], m0 = mult[oc], h0 = shift[oc];
      int32_t s0 = b0, s1 = b0;
      for (int32_t k = 0; k < p->k4; k += 4) {
        const uint32_t v = tme_load32(w0 + k);
        const uint32_t lo = tme_sxtb16(v), hi = tme_sxtb16_ror8(v);
        s0 = tme_smlad(tme_load32(a0 + 2 * k), lo, s0);
        s0 = tme_smlad(tme_load32(a0 + 2 * k + 4), hi, s0);
        if (p->rows > 1) {
          s1 = tme_smlad(tme_load32(a1 + 2 * k), lo, s1);
          s1 = tme_smlad(tme_load32(a1 + 2 * k + 4), hi, s1);
        }
      }
      const int8_t q[2] = {tme_gemm_q(p, s0, m0, h0), two ? tme_gemm_q(p, s1, m0, h0) : 0};
      if (!residual) {
        out[o0 + oc] = q[0];
        if (two) out[o1 + oc] = q[1];
      } else {
        tme_gemm_residual(residual, skip, q, o0 + oc, o1 + oc, two ? 2 : 1, 1, out);
      }
    }
  }
}

#else /* portable path, shaped for auto-vectorisation */

/* The epilogue of one output value. */
TME_INLINE int8_t tme_gemm_out(const tme_gemm_params *p, int32_t acc, int32_t bias, int32_t mult,
                               int32_t shift, const tme_residual_params *residual,
                               const int8_t *skip, size_t index) {
  const int8_t v = tme_requant_s8(tme_add_wrap(acc, bias), mult, shift, p->out_offset,
                                  p->act_min, p->act_max, p->right_shift);
  return residual ? tme_residual_element(residual, v, skip[index]) : v;
}

/* A short k (the first convolution of an RGB image, narrow 1x1 layers) leaves little to
 * vectorise along k: with at most TME_GEMM_SMALL_K values per row and one block of output
 * channels, the weights are transposed once per call into 16-bit columns on the stack and the
 * product vectorises over the output channels. Vector hosts only: it costs stack and gains
 * nothing on a scalar microcontroller. */
#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define TME_GEMM_SMALL_K 0
#else
#define TME_GEMM_SMALL_K 32
#endif

#if TME_AVX2
/* AVX2, two kernels over the rows of a block widened to 16 bits (x[i][k], rows of at most
 * TME_GEMM_AVX2_K values):
 * - tme_gemm_avx2_rows4, 4 rows x 8 channels at a time: each VPMADDWD takes two values of k of
 *   8 channels against the same two values of one row (broadcast); the requantization 8
 *   channels at a time. The weights are rearranged once per call on the stack as 16-bit pairs
 *   of k, channel by channel (pairs[(k / 2) * 2 * out_c + 2 * j + k % 2] = w[j][k]), so it takes
 *   layers of at most TME_GEMM_AVX2_WEIGHTS weights, a multiple of 8 channels and rows enough
 *   to repay the rearranging (tme_gemm_avx2_fits).
 * - tme_gemm_avx2_dots, any other block (the deep layers with few pixels and many weights,
 *   fully connected layers, the last rows): each sum a dot product along k, 16 values per
 *   VPMADDWD, the weights read in place. */
#define TME_GEMM_AVX2_WEIGHTS 16384
#define TME_GEMM_AVX2_MIN_ROWS 16
#define TME_GEMM_AVX2_K 2048

TME_INLINE int tme_gemm_avx2_fits(const tme_gemm_params *p) {
  return p->out_c % 8 == 0 && p->k4 * p->out_c <= TME_GEMM_AVX2_WEIGHTS &&
         p->rows >= TME_GEMM_AVX2_MIN_ROWS;
}

TME_INLINE void tme_gemm_avx2_pairs(const tme_gemm_params *p, const int8_t *w, int16_t *pairs) {
  for (int32_t k = 0; k < p->k4; k += 2)
    for (int32_t j = 0; j < p->out_c; ++j) {
      pairs[k * p->out_c + 2 * j] = w[(size_t)j * (size_t)p->k4 + k];
      pairs[k * p->out_c + 2 * j + 1] = w[(size_t)j * (size_t)p->k4 + k + 1];
    }
}

/* The n rows of a block in scratch (u8, x + 128) as 16-bit values. */
TME_INLINE void tme_gemm_avx2_widen(const tme_gemm_params *p, const uint8_t *scratch, int32_t n,
                                    int16_t (*x)[TME_GEMM_AVX2_K]) {
  for (int32_t i = 0; i < n; ++i) {
    const uint8_t *src = scratch + i * p->k4;
    int32_t k = 0;
    for (; k + 16 <= p->k4; k += 16)
      _mm256_storeu_si256((__m256i *)(void *)&x[i][k], _mm256_cvtepu8_epi16(
          _mm_loadu_si128((const __m128i *)(const void *)(src + k))));
    for (; k < p->k4; ++k) x[i][k] = src[k];
  }
}

/* Outputs of rows [r, r + 4). */
TME_INLINE void tme_gemm_avx2_rows4(const tme_gemm_params *p, const int16_t *pairs,
                                    const int16_t (*x)[TME_GEMM_AVX2_K], const int32_t *bias,
                                    const int32_t *mult, const int8_t *shift,
                                    const tme_residual_params *residual, const int8_t *skip,
                                    int32_t r, int8_t *out) {
  for (int32_t j = 0; j < p->out_c; j += 8) {
    __m256i s[TME_GEMM_ROWS];
    for (int32_t i = 0; i < TME_GEMM_ROWS; ++i)
      s[i] = _mm256_loadu_si256((const __m256i *)(const void *)(bias + j));
    for (int32_t k = 0; k < p->k4; k += 2) {
      const __m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)(
          pairs + k * p->out_c + 2 * j));
      for (int32_t i = 0; i < TME_GEMM_ROWS; ++i) {
        int32_t both;  /* x[i][k] and x[i][k + 1] */
        memcpy(&both, &x[i][k], sizeof both);
        s[i] = _mm256_add_epi32(s[i], _mm256_madd_epi16(_mm256_set1_epi32(both), wv));
      }
    }
    const tme_requant8_consts q = tme_requant8_load(mult, shift, j, p->out_offset, p->act_min,
                                                    p->act_max, p->right_shift);
    for (int32_t i = 0; i < TME_GEMM_ROWS; ++i) {
      const size_t o = (size_t)(r + i) * (size_t)p->out_c + (size_t)j;
      if (!residual)
        tme_store8_s8(out + o, tme_requant8(s[i], &q));
      else
        tme_residual8_store(residual, tme_requant8(s[i], &q), skip, o, out);
    }
  }
}

/* 16 weights of a row at w (fewer at its end: n of 4, 8 or 12, the rest 0) as 16-bit lanes. */
TME_INLINE __m256i tme_gemm_avx2_w16(const int8_t *w, int32_t n) {
  if (n >= 16) return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)w));
  /* the tail of a row: its first 8 bytes in one load, 4 more in another (k4 % 4 == 0) */
  __m128i v = _mm_setzero_si128();
  int32_t last;
  if (n >= 8) {
    v = _mm_loadl_epi64((const __m128i *)(const void *)w);
    if (n >= 12) {
      memcpy(&last, w + 8, sizeof last);
      v = _mm_insert_epi32(v, last, 2);
    }
  } else {
    memcpy(&last, w, sizeof last);
    v = _mm_cvtsi32_si128(last);
  }
  return _mm256_cvtepi8_epi16(v);
}

/* The sums (without the bias) of n rows x channels [oc0, oc0 + nb) into acc. */
TME_INLINE void tme_gemm_avx2_dots(const tme_gemm_params *p, const int8_t *w,
                                   const int16_t (*x)[TME_GEMM_AVX2_K], int32_t n, int32_t oc0,
                                   int32_t nb, int32_t (*acc)[TME_GEMM_OC_BLOCK]) {
  /* x past k4 is never read into a sum: its weights are 0 */
#define TME_GEMM_AVX2_DOT(s, i, k, wv)                                                          \
  s = _mm256_add_epi32(s, _mm256_madd_epi16(                                                    \
          _mm256_loadu_si256((const __m256i *)(const void *)&x[i][k]), wv))
  for (int32_t j = 0; j < nb; ++j) {
    const int8_t *wr = w + (size_t)(oc0 + j) * (size_t)p->k4;
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    if (n == TME_GEMM_ROWS) {
      for (int32_t k = 0; k < p->k4; k += 16) {
        const __m256i wv = tme_gemm_avx2_w16(wr + k, p->k4 - k);
        TME_GEMM_AVX2_DOT(s0, 0, k, wv);
        TME_GEMM_AVX2_DOT(s1, 1, k, wv);
        TME_GEMM_AVX2_DOT(s2, 2, k, wv);
        TME_GEMM_AVX2_DOT(s3, 3, k, wv);
      }
    } else {  /* the last rows, or the one row of a fully connected layer */
      for (int32_t k = 0; k < p->k4; k += 16) {
        const __m256i wv = tme_gemm_avx2_w16(wr + k, p->k4 - k);
        TME_GEMM_AVX2_DOT(s0, 0, k, wv);
        if (n > 1) TME_GEMM_AVX2_DOT(s1, 1, k, wv);
        if (n > 2) TME_GEMM_AVX2_DOT(s2, 2, k, wv);
      }
    }
    /* the 8 lanes of each row added up: two horizontal adds and the two halves */
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
    int32_t sums[4];
    _mm_storeu_si128((__m128i *)(void *)sums, _mm_add_epi32(_mm256_castsi256_si128(h),
                                                            _mm256_extracti128_si256(h, 1)));
    for (int32_t i = 0; i < n; ++i) acc[i][j] = sums[i];
  }
#undef TME_GEMM_AVX2_DOT
}
#endif

TME_INLINE void tme_gemm_s8(const tme_gemm_params *p, const int8_t *in, const int8_t *w,
                            const int32_t *bias, const int32_t *mult, const int8_t *shift,
                            const tme_residual_params *residual, const int8_t *skip,
                            uint8_t *scratch, int8_t *out) {
#if TME_AVX2
  const int avx2 = tme_gemm_avx2_fits(p), avx2_dots = p->k4 <= TME_GEMM_AVX2_K;
  int16_t pairs[TME_GEMM_AVX2_WEIGHTS];
  int16_t x[TME_GEMM_ROWS][TME_GEMM_AVX2_K];
  if (avx2) tme_gemm_avx2_pairs(p, w, pairs);
#else
  const int avx2 = 0, avx2_dots = 0;
#endif
  /* (on the AVX2 path its kernels take every block the small-k block would) */
  const int small_k = !avx2 && !avx2_dots && p->k4 <= TME_GEMM_SMALL_K &&
                      p->out_c <= TME_GEMM_OC_BLOCK;
  int16_t wt[TME_GEMM_SMALL_K ? TME_GEMM_SMALL_K * TME_GEMM_OC_BLOCK : 1];
  if (small_k)
    for (int32_t k = 0; k < p->k4; ++k)
      for (int32_t j = 0; j < p->out_c; ++j)
        wt[k * p->out_c + j] = w[(size_t)j * (size_t)p->k4 + k];
  for (int32_t r = 0; r < p->rows; r += TME_GEMM_ROWS) {
    const int32_t n = p->rows - r < TME_GEMM_ROWS ? p->rows - r : TME_GEMM_ROWS;
    for (int32_t i = 0; i < n; ++i) tme_gemm_row_u8(p, in, r + i, scratch + i * p->k4);
#if TME_AVX2
    if (avx2_dots) tme_gemm_avx2_widen(p, scratch, n, x);
    if (avx2 && n == TME_GEMM_ROWS) {
      tme_gemm_avx2_rows4(p, pairs, (const int16_t(*)[TME_GEMM_AVX2_K])x, bias, mult, shift,
                          residual, skip, r, out);
      continue;
    }
#endif
    for (int32_t oc0 = 0; oc0 < p->out_c; oc0 += TME_GEMM_OC_BLOCK) {
      const int32_t nb = p->out_c - oc0 < TME_GEMM_OC_BLOCK ? p->out_c - oc0 : TME_GEMM_OC_BLOCK;
      int32_t acc[TME_GEMM_ROWS][TME_GEMM_OC_BLOCK];
#if TME_AVX2
      if (avx2_dots) {
        tme_gemm_avx2_dots(p, w, (const int16_t(*)[TME_GEMM_AVX2_K])x, n, oc0, nb, acc);
      } else
#endif
      if (n == TME_GEMM_ROWS && small_k) {  /* one block of channels: nb == out_c */
        const uint8_t *a0 = scratch, *a1 = a0 + p->k4, *a2 = a1 + p->k4, *a3 = a2 + p->k4;
        for (int32_t j = 0; j < nb; ++j) acc[0][j] = acc[1][j] = acc[2][j] = acc[3][j] = 0;
        for (int32_t k = 0; k < p->k4; ++k) {
          const int16_t *wk = wt + k * p->out_c;
          const int32_t x0 = a0[k], x1 = a1[k], x2 = a2[k], x3 = a3[k];
          for (int32_t j = 0; j < nb; ++j) {
            acc[0][j] += x0 * wk[j];
            acc[1][j] += x1 * wk[j];
            acc[2][j] += x2 * wk[j];
            acc[3][j] += x3 * wk[j];
          }
        }
      } else if (n == TME_GEMM_ROWS) {
        const uint8_t *a0 = scratch, *a1 = a0 + p->k4, *a2 = a1 + p->k4, *a3 = a2 + p->k4;
        for (int32_t j = 0; j < nb; ++j) {
          const int8_t *wr = w + (size_t)(oc0 + j) * (size_t)p->k4;
          int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
          for (int32_t k = 0; k < p->k4; ++k) {
            const int32_t wk = wr[k];
            s0 += a0[k] * wk;
            s1 += a1[k] * wk;
            s2 += a2[k] * wk;
            s3 += a3[k] * wk;
          }
          acc[0][j] = s0;
          acc[1][j] = s1;
          acc[2][j] = s2;
          acc[3][j] = s3;
        }
      } else {
        for (int32_t i = 0; i < n; ++i) {
          const uint8_t *a = scratch + i * p->k4;
          for (int32_t j = 0; j < nb; ++j) {
            const int8_t *wr = w + (size_t)(oc0 + j) * (size_t)p->k4;
            int32_t s = 0;
            for (int32_t k = 0; k < p->k4; ++k) s += a[k] * wr[k];
            acc[i][j] = s;
          }
        }
      }
      for (int32_t i = 0; i < n; ++i) {
        const size_t o = (size_t)(r + i) * (size_t)p->out_c + (size_t)oc0;
        const int32_t *ai = acc[i];
        for (int32_t j = 0; j < nb; ++j)
          out[o + j] = tme_gemm_out(p, ai[j], bias[oc0 + j], mult[oc0 + j], shift[oc0 + j],
                                    residual, skip, o + j);
      }
    }
  }
}

#endif /* TME_DSP */

#endif /* TME_GEMM_H */
