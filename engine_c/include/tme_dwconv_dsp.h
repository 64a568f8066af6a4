/* DEPTHWISE_CONV_2D for the Arm DSP extension (tme_dwconv.h selects it; on the host with
 * TME_EMULATE_DSP): the raster kernel 4 channels at a time here, the in-place kernel in
 * tme_dwconv_dsp_inplace.h. */
#ifndef TME_DWCONV_DSP_H
#define TME_DWCONV_DSP_H

#include "tme_dsp.h"
#include "tme_dwconv.h"

/* The epilogue of channel c of the pixel whose first output byte is o; acc includes the bias
 * (the sums start at it: the same int32 sum, wrapping as TFLite Micro's). */
TME_INLINE void tme_dw_store(const tme_dw_params *p, int32_t acc, int32_t c, int32_t mult,
                             int32_t shift, const tme_residual_params *residual,
                             const int8_t *skip, size_t o, int8_t *out) {
  const size_t i = o + (size_t)c;
  const int8_t v = tme_requant_s8(acc, mult, shift, p->out_offset, p->act_min, p->act_max,
                                  p->right_shift);
  out[i] = residual ? tme_residual_element(residual, v, skip[i]) : v;
}

/* A case of a switch that goes on into the next one. */
#if defined(__GNUC__) && __GNUC__ >= 7
#define TME_FALLTHROUGH __attribute__((fallthrough))
#else
#define TME_FALLTHROUGH ((void)0)
#endif

/* DSP path: 4 channels at a time, each tap one word of inputs (at xa) and one of weights (at
 * wa) split into 16-bit lanes (SXTAB16 adds the input offset on the way), four 16x16
 * multiply-accumulates. */
#define TME_DW_MAC4(xa, wa)                                                                      \
  do {                                                                                          \
    const uint32_t xv = tme_load32(xa), wv = tme_load32(wa);                                    \
    const uint32_t x02 = tme_sxtab16(offset, xv), x13 = tme_sxtab16_ror8(offset, xv);           \
    const uint32_t w02 = tme_sxtb16(wv), w13 = tme_sxtb16_ror8(wv);                             \
    a0 = tme_smlabb(x02, w02, a0);                                                              \
    a2 = tme_smlatt(x02, w02, a2);                                                              \
    a1 = tme_smlabb(x13, w13, a1);                                                              \
    a3 = tme_smlatt(x13, w13, a3);                                                              \
  } while (0)

#define TME_DW_TAP4(ky, kx)                                                                      \
  TME_DW_MAC4(in + (x + ((ptrdiff_t)((ky) * p->dil_h) * p->in_w +                               \
                         (ptrdiff_t)((kx) * p->dil_w)) * (ptrdiff_t)p->c),                      \
              wc + (size_t)((ky) * p->k_w + (kx)) * (size_t)p->c)

/* Tap j of a border pixel's row, counted from the row's first tap inside (xr, wr). */
#define TME_DW_ROW_TAP4(j)                                                                       \
  TME_DW_MAC4(xr + (ptrdiff_t)(j) * p->dil_w * p->c, wr + (size_t)(j) * (size_t)p->c)

/* The n taps inside a border pixel's kernel row, TAP(j) for j < n: a jump into the row's
 * unrolled taps at the number inside (a loop only for kernels wider than 7). */
#define TME_DW_ROW_TAPS(n, TAP)                                                                  \
  switch (n) {                                                                                  \
    default:                                                                                    \
      for (int32_t j = 7; j < (n); ++j) TAP(j);                                                 \
      TME_FALLTHROUGH;                                                                          \
    case 7: if (6 < p->k_w) TAP(6); TME_FALLTHROUGH;                                            \
    case 6: if (5 < p->k_w) TAP(5); TME_FALLTHROUGH;                                            \
    case 5: if (4 < p->k_w) TAP(4); TME_FALLTHROUGH;                                            \
    case 4: if (3 < p->k_w) TAP(3); TME_FALLTHROUGH;                                            \
    case 3: if (2 < p->k_w) TAP(2); TME_FALLTHROUGH;                                            \
    case 2: if (1 < p->k_w) TAP(1); TME_FALLTHROUGH;                                            \
    case 1: TAP(0);                                                                             \
  }

TME_INLINE void tme_dw_pixel(const tme_dw_params *p, const int8_t *in, int32_t iy0, int32_t ix0,
                             int32_t ky0, int32_t ky1, int32_t kx0, int32_t kx1, int unrolled,
                             const int8_t *w, const int32_t *bias, const int32_t *mult,
                             const int8_t *shift, const tme_residual_params *residual,
                             const int8_t *skip, size_t o, int8_t *out) {
  const uint32_t offset = ((uint32_t)p->in_offset & 0xFFFFu) * 0x00010001u;
  /* offset of the window's first tap, channel 0: outside the input for a border pixel (only
   * the taps [ky0, ky1) x [kx0, kx1) are read), so an index, not a pointer */
  const ptrdiff_t window = ((ptrdiff_t)iy0 * p->in_w + (ptrdiff_t)ix0) * (ptrdiff_t)p->c;
  /* a border pixel: the first tap inside, and the taps of each row inside */
  const ptrdiff_t first = window + ((ptrdiff_t)ky0 * p->dil_h * p->in_w +
                                    (ptrdiff_t)kx0 * p->dil_w) * (ptrdiff_t)p->c;
  const int32_t n = kx1 > kx0 && ky1 > ky0 ? kx1 - kx0 : 0;
  int32_t c = 0;
  for (; c + 4 <= p->c; c += 4) {
    int32_t a0 = bias[c], a1 = bias[c + 1], a2 = bias[c + 2], a3 = bias[c + 3];
    if (unrolled) {
      const ptrdiff_t x = window + c;
      const int8_t *const wc = w + c;
      TME_DW_EACH_TAP(TME_DW_TAP4);
    } else if (n > 0) {
      /* row by row, the taps of a row unrolled */
      const int8_t *xr = in + first + c;
      const int8_t *wr = w + (size_t)(ky0 * p->k_w + kx0) * (size_t)p->c + (size_t)c;
      for (int32_t ky = ky0; ky < ky1; ++ky) {
        TME_DW_ROW_TAPS(n, TME_DW_ROW_TAP4)
        xr += (ptrdiff_t)p->dil_h * p->in_w * p->c;
        wr += (size_t)p->k_w * (size_t)p->c;
      }
    }
    const int32_t m0 = mult[c], m1 = mult[c + 1], m2 = mult[c + 2], m3 = mult[c + 3];
    tme_dw_store(p, a0, c, m0, shift[c], residual, skip, o, out);
    tme_dw_store(p, a1, c + 1, m1, shift[c + 1], residual, skip, o, out);
    tme_dw_store(p, a2, c + 2, m2, shift[c + 2], residual, skip, o, out);
    tme_dw_store(p, a3, c + 3, m3, shift[c + 3], residual, skip, o, out);
  }
  for (; c < p->c; ++c) {  /* channel counts that are not a multiple of 4 */
    int32_t acc = 0;
    for (int32_t ky = ky0; ky < ky1; ++ky)
      for (int32_t kx = kx0; kx < kx1; ++kx) {
        const int32_t x = in[((size_t)(iy0 + ky * p->dil_h) * (size_t)p->in_w +
                              (size_t)(ix0 + kx * p->dil_w)) * (size_t)p->c + (size_t)c];
        acc += (x + p->in_offset) * w[(size_t)(ky * p->k_w + kx) * (size_t)p->c + (size_t)c];
      }
    tme_dw_store(p, tme_add_wrap(acc, bias[c]), c, mult[c], shift[c], residual, skip, o, out);
  }
}

/* Bands of output rows channel group by channel group (tme_dw_s8 chooses the bands): every
 * pixel of a band for 4 channels, after the group's weights are split into 16-bit lanes once,
 * on the stack (TME_DW_WQ_TAPS taps at most): each tap then one LDRD of weights, 8 instructions
 * per 4 MACs instead of 10. */
#define TME_DW_WQ_TAPS 49
#define TME_DW_GROUPS(p) ((p)->c % 4 == 0 && (p)->k_h * (p)->k_w <= TME_DW_WQ_TAPS)

/* One tap of the group: the word of inputs at xa, the split weights wq (lanes 0, 2 low). */
#define TME_DW_WTAP4(xa, wq)                                                                     \
  do {                                                                                          \
    const uint32_t xv = tme_load32(xa);                                                         \
    const uint32_t x02 = tme_sxtab16(offset, xv), x13 = tme_sxtab16_ror8(offset, xv);           \
    const uint64_t wv = (wq);                                                                   \
    const uint32_t w02 = (uint32_t)wv, w13 = (uint32_t)(wv >> 32);                              \
    a0 = tme_smlabb(x02, w02, a0);                                                              \
    a2 = tme_smlatt(x02, w02, a2);                                                              \
    a1 = tme_smlabb(x13, w13, a1);                                                              \
    a3 = tme_smlatt(x13, w13, a3);                                                              \
  } while (0)
#define TME_DW_WTAP4_AT(ky, kx)                                                                  \
  TME_DW_WTAP4(x + ((ptrdiff_t)((ky) * p->dil_h) * p->in_w + (ptrdiff_t)((kx) * p->dil_w)) *    \
                       (ptrdiff_t)p->c,                                                         \
               wq[(ky) * p->k_w + (kx)])
#define TME_DW_WROW_TAP4(j) TME_DW_WTAP4(xr + (ptrdiff_t)(j) * p->dil_w * p->c, wr[j])

/* Channels [c, c + 4) of one output pixel (taps as tme_dw_pixel), the split weights in wq. */
TME_INLINE void tme_dw_group_pixel(const tme_dw_params *p, const int8_t *in, int32_t iy0,
                                   int32_t ix0, int32_t ky0, int32_t ky1, int32_t kx0,
                                   int32_t kx1, int unrolled, int32_t c, const uint64_t *wq,
                                   const int32_t *bias, const int32_t *mult, const int8_t *shift,
                                   size_t o, int8_t *out) {
  const uint32_t offset = ((uint32_t)p->in_offset & 0xFFFFu) * 0x00010001u;
  const ptrdiff_t window = ((ptrdiff_t)iy0 * p->in_w + (ptrdiff_t)ix0) * (ptrdiff_t)p->c;
  int32_t a0 = bias[c], a1 = bias[c + 1], a2 = bias[c + 2], a3 = bias[c + 3];
  if (unrolled) {
    const int8_t *const x = in + window + c;
    TME_DW_EACH_TAP(TME_DW_WTAP4_AT);
  } else {
    const int32_t n = kx1 > kx0 && ky1 > ky0 ? kx1 - kx0 : 0;
    const int8_t *xr = in + window + c +
        ((ptrdiff_t)ky0 * p->dil_h * p->in_w + (ptrdiff_t)kx0 * p->dil_w) * (ptrdiff_t)p->c;
    const uint64_t *wr = wq + ky0 * p->k_w + kx0;
    for (int32_t ky = ky0; ky < ky1 && n > 0; ++ky) {
      TME_DW_ROW_TAPS(n, TME_DW_WROW_TAP4)
      xr += (ptrdiff_t)p->dil_h * p->in_w * p->c;
      wr += p->k_w;
    }
  }
  const int32_t m0 = mult[c], m1 = mult[c + 1], m2 = mult[c + 2], m3 = mult[c + 3];
  tme_dw_store(p, a0, c, m0, shift[c], NULL, NULL, o, out);
  tme_dw_store(p, a1, c + 1, m1, shift[c + 1], NULL, NULL, o, out);
  tme_dw_store(p, a2, c + 2, m2, shift[c + 2], NULL, NULL, o, out);
  tme_dw_store(p, a3, c + 3, m3, shift[c + 3], NULL, NULL, o, out);
}

/* Output rows [r0, r1); wq: k_h * k_w words of scratch on the stack. */
TME_INLINE void tme_dw_groups(const tme_dw_params *p, const int8_t *in, const int8_t *w,
                              const int32_t *bias, const int32_t *mult, const int8_t *shift,
                              int8_t *out, int32_t r0, int32_t r1, uint64_t *wq) {
  for (int32_t c = 0; c < p->c; c += 4) {
    for (int32_t t = 0; t < p->k_h * p->k_w; ++t) {
      const uint32_t wv = tme_load32(w + (size_t)t * (size_t)p->c + (size_t)c);
      wq[t] = (uint64_t)tme_sxtb16(wv) | (uint64_t)tme_sxtb16_ror8(wv) << 32;
    }
    /* an interior pixel: every tap unrolled up to 25 taps, row by row above (code size) */
#define TME_DW_GROUP_PIXEL(iy0, ix0, ky0, ky1, kx0, kx1, inside, o)                               \
    tme_dw_group_pixel(p, in, iy0, ix0, ky0, ky1, kx0, kx1, (inside) && p->k_h * p->k_w <= 25,  \
                       c, wq, bias, mult, shift, o, out)
    TME_DW_EACH_PIXEL(r0, r1, 1, TME_DW_GROUP_PIXEL)
#undef TME_DW_GROUP_PIXEL
  }
}

/* Bands of rows channel group by channel group: a band may start writing outputs before
 * reading all its inputs, so its outputs must end before the first input byte it reads. With a
 * stride of 1 the output follows the input row for row and bands stay short: such a layer
 * (unless its output is apart from its input) keeps the raster order, without the code of both
 * paths. A row that is no band by itself goes pixel by pixel (raster order). */
TME_INLINE void tme_dw_bands(const tme_dw_params *p, const int8_t *in, const int8_t *w,
                             const int32_t *bias, const int32_t *mult, const int8_t *shift,
                             int8_t *out, uint64_t *wq) {
  const size_t row = (size_t)p->out_w * (size_t)p->c, in_row = (size_t)p->in_w * (size_t)p->c;
  /* (pointers into the one static arena, every tensor's home: compared, and folded by the
   * compiler) */
  if (out >= in + (size_t)p->in_h * in_row || out + (size_t)p->out_h * row <= in) {
    tme_dw_groups(p, in, w, bias, mult, shift, out, 0, p->out_h, wq);
    return;
  }
  if (p->stride_h < 2) {
    tme_dw_rows(p, in, w, bias, mult, shift, NULL, NULL, out, 0, p->out_h, 1);
    return;
  }
  int32_t r0 = 0;
  while (r0 < p->out_h) {
    const int32_t iy = r0 * p->stride_h - p->pad_top;
    const uintptr_t first = (uintptr_t)in + (size_t)(iy > 0 ? iy : 0) * in_row;
    int32_t r1 = r0;
    while (r1 < p->out_h && (uintptr_t)out + (size_t)(r1 + 1) * row <= first) ++r1;
    if (r1 > r0) {
      tme_dw_groups(p, in, w, bias, mult, shift, out, r0, r1, wq);
      r0 = r1;
    } else {
      tme_dw_rows(p, in, w, bias, mult, shift, NULL, NULL, out, r0, r0 + 1, 0);
      ++r0;
    }
  }
}

TME_INLINE void tme_dw_s8(const tme_dw_params *p, const int8_t *in, const int8_t *w,
                          const int32_t *bias, const int32_t *mult, const int8_t *shift,
                          const tme_residual_params *residual, const int8_t *skip, int8_t *out) {
  if (TME_DW_GROUPS(p) && !residual) {  /* the split weights' scratch sized for the kernel */
    if (p->k_h * p->k_w <= 9) {
      uint64_t wq[9];
      tme_dw_bands(p, in, w, bias, mult, shift, out, wq);
    } else if (p->k_h * p->k_w <= 25) {
      uint64_t wq[25];
      tme_dw_bands(p, in, w, bias, mult, shift, out, wq);
    } else {
      uint64_t wq[TME_DW_WQ_TAPS];
      tme_dw_bands(p, in, w, bias, mult, shift, out, wq);
    }
    return;
  }
  tme_dw_rows(p, in, w, bias, mult, shift, residual, skip, out, 0, p->out_h, 1);
}

#include "tme_dwconv_dsp_inplace.h"

#endif /* TME_DWCONV_DSP_H */
