/* DEPTHWISE_CONV_2D, the portable reference (tme_dwconv.h selects it): plain C loops over
 * blocks of channels (raster) or of output columns (in place) that compilers vectorise. The
 * AVX2 path (tme_dwconv_avx2.h) is this one with its own tme_dw_pixel. */
#ifndef TME_DWCONV_REF_H
#define TME_DWCONV_REF_H

#include "tme_dwconv.h"

/* The taps [ky0, ky1) x [kx0, kx1) of one output pixel, all channels; `unrolled`: every tap
 * (an interior pixel), the tap loops unrolled. */
#define TME_DW_TAPS(ky0, ky1, kx0, kx1)                                                        \
  for (int32_t ky = (ky0); ky < (ky1); ++ky) {                                                  \
    TME_UNROLL(7)                                                                               \
    for (int32_t kx = (kx0); kx < (kx1); ++kx) {                                                \
      const int8_t *x = in + (((size_t)(iy0 + ky * p->dil_h) * (size_t)p->in_w +               \
                               (size_t)(ix0 + kx * p->dil_w)) * (size_t)p->c + (size_t)c0);     \
      const int8_t *wt = w + ((size_t)(ky * p->k_w + kx) * (size_t)p->c + (size_t)c0);          \
      /* |x + in_offset| <= 255 and |w| <= 128: the product fits 16 bits */                     \
      for (int32_t j = 0; j < nb; ++j) acc[j] += (int16_t)((int16_t)(x[j] + p->in_offset) * wt[j]); \
    }                                                                                           \
  }

/* Channels [c0, c0 + nb) of one output pixel (nb a constant: the accumulators stay in
 * registers). */
TME_INLINE void tme_dw_block(const tme_dw_params *p, const int8_t *in, int32_t iy0, int32_t ix0,
                             int32_t ky0, int32_t ky1, int32_t kx0, int32_t kx1, int unrolled,
                             int32_t c0, int32_t nb, const int8_t *w, const int32_t *bias,
                             const int32_t *mult, const int8_t *shift,
                             const tme_residual_params *residual, const int8_t *skip, size_t o,
                             int8_t *out) {
  int32_t acc[TME_DW_BLOCK];
  for (int32_t j = 0; j < nb; ++j) acc[j] = 0;
  if (unrolled) {
    TME_UNROLL(7)
    TME_DW_TAPS(0, p->k_h, 0, p->k_w)
  } else {
    TME_DW_TAPS(ky0, ky1, kx0, kx1)
  }
  for (int32_t j = 0; j < nb; ++j) {
    const size_t i = o + (size_t)c0 + (size_t)j;
    /* the bias last, wrapping as TFLite Micro's int32 sum (a bias may be near the limits) */
    const int8_t v = tme_requant_s8(tme_add_wrap(acc[j], bias[c0 + j]), mult[c0 + j],
                                    shift[c0 + j], p->out_offset, p->act_min, p->act_max,
                                    p->right_shift);
    out[i] = residual ? tme_residual_element(residual, v, skip[i]) : v;
  }
}

#if !TME_AVX2
TME_INLINE void tme_dw_pixel(const tme_dw_params *p, const int8_t *in, int32_t iy0, int32_t ix0,
                             int32_t ky0, int32_t ky1, int32_t kx0, int32_t kx1, int unrolled,
                             const int8_t *w, const int32_t *bias, const int32_t *mult,
                             const int8_t *shift, const tme_residual_params *residual,
                             const int8_t *skip, size_t o, int8_t *out) {
  const int32_t full = p->c / TME_DW_BLOCK, tail = p->c % TME_DW_BLOCK;
  for (int32_t b = 0; b < full; ++b)
    tme_dw_block(p, in, iy0, ix0, ky0, ky1, kx0, kx1, unrolled, b * TME_DW_BLOCK, TME_DW_BLOCK,
                 w, bias, mult, shift, residual, skip, o, out);
  if (tail)
    tme_dw_block(p, in, iy0, ix0, ky0, ky1, kx0, kx1, unrolled, full * TME_DW_BLOCK, tail, w,
                 bias, mult, shift, residual, skip, o, out);
}
#endif

TME_INLINE void tme_dw_s8(const tme_dw_params *p, const int8_t *in, const int8_t *w,
                          const int32_t *bias, const int32_t *mult, const int8_t *shift,
                          const tme_residual_params *residual, const int8_t *skip, int8_t *out) {
  tme_dw_rows(p, in, w, bias, mult, shift, residual, skip, out, 0, p->out_h, 1);
}

/* ---- in place ---- */

/* Output columns [ox0, ox0 + nb) of one output row of channel c, from the ring (nb a
 * constant: the accumulators stay in registers). */
TME_INLINE void tme_dw_ring_block(const tme_dw_params *p, const tme_i16 *rows, int32_t iy0,
                                  int32_t ox0, int32_t nb, int32_t c, const int8_t *w,
                                  const int32_t *bias, const int32_t *mult, const int8_t *shift,
                                  int8_t *orow) {
  const int32_t slot_len = p->stride_w * p->ring_w;
  const int32_t lanes = (nb + TME_DW_LANES - 1) / TME_DW_LANES * TME_DW_LANES;
  int32_t acc[TME_DW_BLOCK];
  for (int32_t j = 0; j < lanes; ++j) acc[j] = 0;
  TME_UNROLL(7)
  for (int32_t ky = 0; ky < p->k_h; ++ky) {
    const tme_i16 *row =
        rows + (size_t)((iy0 + ky * p->dil_h + p->pad_top) % p->k_h) * (size_t)slot_len;
    TME_UNROLL(7)
    for (int32_t kx = 0; kx < p->k_w; ++kx) {
      const int32_t col = kx * p->dil_w;  /* padded column of output 0's tap */
      const tme_i16 *x = row + (col % p->stride_w) * p->ring_w + col / p->stride_w + ox0;
      const int32_t wk = w[(size_t)(ky * p->k_w + kx) * (size_t)p->c + (size_t)c];
      /* |x| <= 255 and |w| <= 128: the product fits 16 bits */
      if (lanes <= 16) {
        TME_UNROLL(1)  /* a loop to vectorise, not 16 scalar statements */
        for (int32_t j = 0; j < lanes; ++j) acc[j] += (int16_t)(x[j] * wk);
      } else {
        for (int32_t j = 0; j < lanes; ++j) acc[j] += (int16_t)(x[j] * wk);
      }
    }
  }
  for (int32_t j = 0; j < nb; ++j)
    orow[(size_t)(ox0 + j) * (size_t)p->c] = tme_requant_s8(
        tme_add_wrap(acc[j], bias[c]), mult[c], shift[c], p->out_offset, p->act_min, p->act_max,
        p->right_shift);
}

/* One output row of channel c (its bytes c apart from orow on). */
TME_INLINE void tme_dw_ring_out(const tme_dw_params *p, const tme_i16 *rows, int32_t iy0,
                                int32_t c, const int8_t *w, const int32_t *bias,
                                const int32_t *mult, const int8_t *shift, int8_t *orow) {
  const int32_t full = p->out_w / TME_DW_BLOCK, tail = p->out_w % TME_DW_BLOCK;
  for (int32_t b = 0; b < full; ++b)
    tme_dw_ring_block(p, rows, iy0, b * TME_DW_BLOCK, TME_DW_BLOCK, c, w, bias, mult, shift,
                      orow);
  if (tail)
    tme_dw_ring_block(p, rows, iy0, full * TME_DW_BLOCK, tail, c, w, bias, mult, shift, orow);
}

TME_INLINE void tme_dw_inplace_s8(const tme_dw_params *p, int8_t *data, const int8_t *w,
                                  const int32_t *bias, const int32_t *mult, const int8_t *shift,
                                  uint8_t *scratch) {
  const int32_t slot_len = p->stride_w * p->ring_w;
  tme_i16 *const rows = (tme_i16 *)(void *)scratch;                 /* k_h slots */
  const int32_t e = p->in_offset;
  const int32_t pad = e - p->in_offset;
  for (int32_t i = 0; i < p->k_h * slot_len; ++i) rows[i] = (int16_t)pad;
  for (int32_t c = 0; c < p->c; ++c) {
    /* input row iy goes to slot (iy + pad_top) % k_h: counted, not divided */
    int32_t iy = -p->pad_top, slot = 0;  /* the next input row to copy, its slot */
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_top;
      const int32_t need = iy0 + (p->k_h - 1) * p->dil_h;
      for (; iy <= need; ++iy) {
        if (iy >= iy0)
          tme_dw_ring_row(p, data, c, iy, e, pad, rows + (size_t)slot * (size_t)slot_len);
        slot = slot + 1 == p->k_h ? 0 : slot + 1;
      }
      int8_t *orow = data + (size_t)oy * (size_t)p->out_w * (size_t)p->c + (size_t)c;
      tme_dw_ring_out(p, rows, iy0, c, w, bias, mult, shift, orow);
    }
  }
}

#endif /* TME_DWCONV_REF_H */
