/* CONV_2D and FULLY_CONNECTED for the Arm DSP extension (tme_gemm.h selects it; on the host
 * with TME_EMULATE_DSP): blocks of 2 rows x 2 channels, rows of 16-bit values, two MACs per
 * SMLAD; on Arm the inner loops in assembly (tme_gemm_dsp_asm.h). */
#ifndef TME_GEMM_DSP_H
#define TME_GEMM_DSP_H

#include "tme_dsp.h"
#include "tme_gemm.h"
#include "tme_gemm_dsp_asm.h"

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

#endif /* TME_GEMM_DSP_H */
