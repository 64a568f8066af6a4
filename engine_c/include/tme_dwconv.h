/* DEPTHWISE_CONV_2D (depth multiplier 1), specialised per layer.
 *
 * acc = bias + sum over the taps inside the input of (x + in_offset) * w, then TFLite Micro's
 * per-channel requantization, output offset, activation clamp (and fused residual ADD).
 *
 * Two kernels, both called through one small function per layer with a `static const`
 * tme_dw_params, so that the compiler unrolls the taps of the layer's kernel size and stride:
 *
 * - tme_dw_s8: output pixels in raster order, all channels of a pixel at a time, after reading
 *   its window (the output may overwrite the windows of earlier pixels: raster_window_slack).
 *   Pixels whose window lies inside the input (the interior, [oy_lo, oy_hi) x [ox_lo, ox_hi))
 *   take every tap without a bound check; border pixels take the taps inside the input.
 *
 * - tme_dw_inplace_s8: the output overwrites its input (`data`), one channel at a time
 *   (TinyEngine's in-place depthwise), with a ring of input rows in scratch: the rows of the
 *   channel the current output row reads, as 16-bit (x + in_offset) padded with zeros
 *   (padding taps add nothing; the DSP path stores x padded with -in_offset and starts its
 *   sums at bias + in_offset * sum(w)), a row stored phase by phase of the stride (columns
 *   s * i + j at [j][i]) so that every tap reads consecutive values. An input row is read once per
 *   channel, into the ring; each output row goes straight over data, on bytes of its own
 *   channel whose input rows are all in the ring by then (ops/conv.py takes only layers where
 *   that holds, and computes the scratch bytes: inplace_geometry).
 */
#ifndef TME_DWCONV_H
#define TME_DWCONV_H

#include "tme_add.h"
#include "tme_common.h"

typedef struct {
  int32_t in_h, in_w, c, out_h, out_w;
  int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
  int32_t oy_lo, oy_hi, ox_lo, ox_hi;  /* interior output pixels: the window is inside */
  int32_t in_offset, out_offset, act_min, act_max;
  int32_t ring_w;  /* in place: values per stride phase of a padded input row */
  int32_t right_shift;  /* 1: tme_requant_right, the shifts stored as -shift - 2 */
} tme_dw_params;

#define TME_DW_BLOCK 64
/* The in-place kernel computes output columns in whole groups of TME_DW_LANES (the ring rows
 * are long enough; ops/conv.py sizes them for 16), so that vectorising compilers need no
 * remainder loops; scalar Cortex-M code computes exactly the columns there are. */
#ifndef TME_DW_LANES
#if defined(__ARM_ARCH) && defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define TME_DW_LANES 1
#else
#define TME_DW_LANES 16
#endif
#endif

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

/* TAP(ky, kx) for every tap of a pixel's window: all of them at constant offsets for an
 * interior pixel (`unrolled`), the taps [ky0, ky1) x [kx0, kx1) inside the input otherwise. */
#define TME_DW_EACH_TAP(TAP)                                                                    \
  do {                                                                                          \
    if (unrolled) {                                                                             \
      TME_PRAGMA_(GCC unroll 7)                                                                 \
      for (int32_t ky = 0; ky < p->k_h; ++ky) {                                                 \
        TME_PRAGMA_(GCC unroll 7)                                                               \
        for (int32_t kx = 0; kx < p->k_w; ++kx) TAP(ky, kx);                                    \
      }                                                                                         \
    } else {                                                                                    \
      for (int32_t ky = ky0; ky < ky1; ++ky)                                                    \
        for (int32_t kx = kx0; kx < kx1; ++kx) TAP(ky, kx);                                     \
    }                                                                                           \
  } while (0)

/* First tap at or after `lo` and the end of the taps before `hi` of a window starting at `i0`. */
static inline int32_t tme_dw_first(int32_t i0, int32_t dil) {
  return i0 < 0 ? (-i0 + dil - 1) / dil : 0;
}
static inline int32_t tme_dw_end(int32_t i0, int32_t dil, int32_t taps, int32_t size) {
  const int32_t n = size - i0 <= 0 ? 0 : (size - i0 + dil - 1) / dil;
  return n < taps ? n : taps;
}

/* PIXEL(iy0, ix0, ky0, ky1, kx0, kx1, inside, o) for every output pixel of rows [r0, r1) in
 * raster order: the window's first input row and column, the taps inside the input, whether
 * they are all of them (an interior pixel, told apart only where `interior`, a constant: the
 * other path is left out) and its first output byte. */
#define TME_DW_EACH_PIXEL(r0, r1, interior, PIXEL)                                               \
  for (int32_t oy = (r0); oy < (r1); ++oy) {                                                   \
    const int32_t iy0 = oy * p->stride_h - p->pad_top;                                          \
    const int row_inside = oy >= p->oy_lo && oy < p->oy_hi;                                     \
    const int32_t ky0 = tme_dw_first(iy0, p->dil_h);                                            \
    const int32_t ky1 = tme_dw_end(iy0, p->dil_h, p->k_h, p->in_h);                             \
    for (int32_t ox = 0; ox < p->out_w; ++ox) {                                                 \
      const int32_t ix0 = ox * p->stride_w - p->pad_left;                                       \
      const size_t o = ((size_t)oy * (size_t)p->out_w + (size_t)ox) * (size_t)p->c;            \
      if ((interior) && row_inside && ox >= p->ox_lo && ox < p->ox_hi)                          \
        PIXEL(iy0, ix0, 0, p->k_h, 0, p->k_w, 1, o);                                            \
      else                                                                                      \
        PIXEL(iy0, ix0, ky0, ky1, tme_dw_first(ix0, p->dil_w),                                  \
              tme_dw_end(ix0, p->dil_w, p->k_w, p->in_w), 0, o);                                \
    }                                                                                           \
  }

#if TME_DSP

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

#elif TME_AVX2

/* AVX2: 16 channels at a time, the products of a tap in 16-bit lanes (|x + in_offset| <= 255,
 * |w| <= 128) added to two vectors of 8 int32 sums that start at the bias; the requantization
 * 8 channels at a time. The channels past the last multiple of 16 take the portable block. */
#define TME_DW_TAP16(ky, kx)                                                                     \
  do {                                                                                          \
    const ptrdiff_t at = x + ((ptrdiff_t)((ky) * p->dil_h) * p->in_w +                          \
                              (ptrdiff_t)((kx) * p->dil_w)) * (ptrdiff_t)p->c;                  \
    const __m256i xv = _mm256_add_epi16(                                                        \
        _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(in + at))), offset); \
    const __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(    \
        wc + (size_t)((ky) * p->k_w + (kx)) * (size_t)p->c)));                                  \
    const __m256i prod = _mm256_mullo_epi16(xv, wv);                                            \
    lo = _mm256_add_epi32(lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(prod)));             \
    hi = _mm256_add_epi32(hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(prod, 1)));        \
  } while (0)

TME_INLINE void tme_dw_pixel(const tme_dw_params *p, const int8_t *in, int32_t iy0, int32_t ix0,
                             int32_t ky0, int32_t ky1, int32_t kx0, int32_t kx1, int unrolled,
                             const int8_t *w, const int32_t *bias, const int32_t *mult,
                             const int8_t *shift, const tme_residual_params *residual,
                             const int8_t *skip, size_t o, int8_t *out) {
  const __m256i offset = _mm256_set1_epi16((int16_t)p->in_offset);
  /* offset of the window's first tap, channel 0 (outside the input for a border pixel) */
  const ptrdiff_t window = ((ptrdiff_t)iy0 * p->in_w + (ptrdiff_t)ix0) * (ptrdiff_t)p->c;
  int32_t c = 0;
  for (; c + 16 <= p->c; c += 16) {
    const ptrdiff_t x = window + c;
    const int8_t *const wc = w + c;
    __m256i lo = _mm256_loadu_si256((const __m256i *)(const void *)(bias + c));
    __m256i hi = _mm256_loadu_si256((const __m256i *)(const void *)(bias + c + 8));
    TME_DW_EACH_TAP(TME_DW_TAP16);
    const tme_requant8_consts q0 = tme_requant8_load(mult, shift, c, p->out_offset, p->act_min,
                                                     p->act_max, p->right_shift);
    const tme_requant8_consts q1 = tme_requant8_load(mult, shift, c + 8, p->out_offset,
                                                     p->act_min, p->act_max, p->right_shift);
    if (!residual) {
      tme_store8_s8(out + o + c, tme_requant8(lo, &q0));
      tme_store8_s8(out + o + c + 8, tme_requant8(hi, &q1));
    } else {
      tme_residual8_store(residual, tme_requant8(lo, &q0), skip, o + c, out);
      tme_residual8_store(residual, tme_requant8(hi, &q1), skip, o + c + 8, out);
    }
  }
  if (c < p->c)
    tme_dw_block(p, in, iy0, ix0, ky0, ky1, kx0, kx1, unrolled, c, p->c - c, w, bias, mult,
                 shift, residual, skip, o, out);
}

#else /* portable path */

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

#endif /* TME_DSP, TME_AVX2 */

/* Output rows [r0, r1) pixel by pixel; `unroll` (a constant): interior pixels take every tap
 * unrolled, else the row by row path too (code size, where few pixels take this path). */
TME_INLINE void tme_dw_rows(const tme_dw_params *p, const int8_t *in, const int8_t *w,
                            const int32_t *bias, const int32_t *mult, const int8_t *shift,
                            const tme_residual_params *residual, const int8_t *skip, int8_t *out,
                            int32_t r0, int32_t r1, int unroll) {
#define TME_DW_RASTER_PIXEL(iy0, ix0, ky0, ky1, kx0, kx1, inside, o)                              \
  tme_dw_pixel(p, in, iy0, ix0, ky0, ky1, kx0, kx1, inside, w, bias, mult, shift, residual,    \
               skip, o, out)
  TME_DW_EACH_PIXEL(r0, r1, unroll, TME_DW_RASTER_PIXEL)
#undef TME_DW_RASTER_PIXEL
}

#if TME_DSP
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
#endif

TME_INLINE void tme_dw_s8(const tme_dw_params *p, const int8_t *in, const int8_t *w,
                          const int32_t *bias, const int32_t *mult, const int8_t *shift,
                          const tme_residual_params *residual, const int8_t *skip, int8_t *out) {
#if TME_DSP
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
#endif
  tme_dw_rows(p, in, w, bias, mult, shift, residual, skip, out, 0, p->out_h, 1);
}

/* ---- in place ---- */

/* Copy input row iy of channel c into a ring slot: x + e phase by phase (e: in_offset on the
 * portable path, 0 on the DSP path). The padding columns of every slot are set once per call of
 * the kernel to `pad` (e - in_offset, so that padding taps add nothing) and never written; a
 * row outside the input is all `pad`. */
TME_INLINE void tme_dw_ring_row(const tme_dw_params *p, const int8_t *data, int32_t c,
                                int32_t iy, int32_t e, int32_t pad, tme_i16 *slot) {
  const int32_t s = p->stride_w, len = s * p->ring_w;
  if (iy < 0 || iy >= p->in_h) {  /* two values a store */
    const uint32_t two = (uint32_t)(uint16_t)pad * 0x10001u;
    for (int32_t i = 0; i + 2 <= len; i += 2) tme_store32(slot + i, two);
    if (len % 2) slot[len - 1] = (int16_t)pad;
    return;
  }
  const int8_t *src = data + (size_t)iy * (size_t)p->in_w * (size_t)p->c + (size_t)c;
  for (int32_t ph = 0; ph < s; ++ph) {  /* padded columns col = ix + pad_left, col % s == ph */
    const int32_t ix0 = ((ph - p->pad_left) % s + s) % s;
    tme_i16 *dst = slot + ph * p->ring_w + (ix0 + p->pad_left) / s;
    int32_t ix = ix0;
#if defined(__ARM_FEATURE_DSP) && !defined(TME_EMULATE_DSP) && defined(__OPTIMIZE__)
    const int32_t n4 = (p->in_w - ix0 + s - 1) / s / 4;  /* groups of 4 values */
    if (e == 0 && s * p->c <= 255 && n4 > 0 && __builtin_constant_p(s * p->c)) {
      /* LDRSB and STRH that step their addresses: 2.5 instructions a value, not GCC's 3 */
      const int8_t *x = src + (size_t)ix0 * (size_t)p->c;
      tme_i16 *const end = dst + 4 * n4;
      int32_t v0, v1, v2, v3;
      __asm__ volatile("1:\n\t"
              "ldrsb %[v0], [%[x]], %[st]\n\t"
              "ldrsb %[v1], [%[x]], %[st]\n\t"
              "ldrsb %[v2], [%[x]], %[st]\n\t"
              "ldrsb %[v3], [%[x]], %[st]\n\t"
              "strh %[v0], [%[d]], #2\n\t"
              "strh %[v1], [%[d]], #2\n\t"
              "strh %[v2], [%[d]], #2\n\t"
              "strh %[v3], [%[d]], #2\n\t"
              "cmp %[d], %[end]\n\t"
              "bne 1b"
              : [x] "+r"(x), [d] "+r"(dst), [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2),
                [v3] "=&r"(v3)
              : [end] "r"(end), [st] "i"(s * p->c)
              : "memory", "cc");
      ix += 4 * n4 * s;
    }
#endif
    for (; ix < p->in_w; ix += s) *dst++ = (int16_t)(src[(size_t)ix * (size_t)p->c] + e);
  }
}

#if TME_DSP

#define TME_DW_TAPS_MAX 16  /* taps of a stride phase */
#define TME_DW_PAIRS 28  /* 64-bit weight words of a channel (tme_dw_pairs): 7x7 at stride 1 */

/* A channel's weights and requantization. The weights twice over (kernel rows 0 .. k_h - 1,
 * then again), so that the ring slots 0 .. k_h - 1 in order find the weights of their kernel
 * rows at consecutive places whatever the rotation of the ring. In memory, which the assembly
 * of tme_dw_ring_taps may read, so GCC reloads b, m, h where they are used instead of holding
 * them in registers through the loop (its spills cost more). */
typedef struct {
  uint64_t w[2 * TME_DW_PAIRS];
  int32_t b, m, h;  /* bias + in_offset * sum(w), multiplier, shift */
} tme_dw_chan;

/* 64-bit weight words of a stride phase of n taps, of a kernel row. */
static inline int32_t tme_dw_words(int32_t n) { return n % 2 ? (n + 1) / 2 : (n + 3) / 4; }
static inline int32_t tme_dw_row_words(const tme_dw_params *p) {
  int32_t r = 0;
  for (int32_t ph = 0; ph < p->stride_w; ++ph)
    r += tme_dw_words((p->k_w - ph + p->stride_w - 1) / p->stride_w);
  return r;
}

/* Tap j of stride phase ph of kernel row ky of channel c as a 16-bit lane, 0 past the n taps. */
static inline uint32_t tme_dw_tap(const tme_dw_params *p, const int8_t *w, int32_t c,
                                  int32_t ky, int32_t ph, int32_t n, int32_t j) {
  const int32_t kx = ph + j * p->stride_w;
  return j < n ? (uint16_t)w[(size_t)(ky * p->k_w + kx) * (size_t)p->c + (size_t)c] : 0u;
}

/* The weights of channel c in the order tme_dw_ring_taps reads them, per kernel row, per stride
 * phase, for the phase's taps w_0 .. w_(n-1): with n odd, the 16-bit pairs P_i = (w_2i, w_2i+1)
 * and Q_i = (w_2i+1, w_2i+2) (w_n = 0), a 64-bit word (P_i, Q_i) per i; with n even, the P_i,
 * two per 64-bit word. Returns in_offset * sum(w): the ring holds x, not x + in_offset (its
 * padding holds -in_offset), so the sums start at bias + in_offset * sum(w). */
TME_INLINE int32_t tme_dw_pairs(const tme_dw_params *p, const int8_t *w, int32_t c,
                                uint64_t *pairs) {
  uint64_t *const first = pairs;
  uint32_t sum = 0;
  for (int32_t ky = 0; ky < p->k_h; ++ky)
    for (int32_t ph = 0; ph < p->stride_w; ++ph) {
      const int32_t n = (p->k_w - ph + p->stride_w - 1) / p->stride_w;
#define TME_DW_TAP_(j) tme_dw_tap(p, w, c, ky, ph, n, j)
      for (int32_t j = 0; j < n; ++j) sum += (uint32_t)(int16_t)TME_DW_TAP_(j);
      for (int32_t i = 0; 2 * i < n; i += 2 - n % 2)  /* n odd: (P_i, Q_i); even: P_i, P_i+1 */
        *pairs++ = (TME_DW_TAP_(2 * i) | TME_DW_TAP_(2 * i + 1) << 16) |
                   (uint64_t)(n % 2 ? TME_DW_TAP_(2 * i + 1) | TME_DW_TAP_(2 * i + 2) << 16
                                    : TME_DW_TAP_(2 * i + 2) | TME_DW_TAP_(2 * i + 3) << 16)
                       << 32;
#undef TME_DW_TAP_
    }
  for (int32_t i = 0; i < p->k_h * tme_dw_row_words(p); ++i) pairs[i] = first[i];
  return (int32_t)(sum * (uint32_t)p->in_offset);
}

/* The n taps of one stride phase of a kernel row for 4 output pixels: x[j .. j + n) against
 * w_0 .. w_(n-1) for pixel j (x: xo values on from `x`; the weights: wo words on from `wq`),
 * two taps per SMLAD. Pixels 0 and 2 take the words W_i = (x[2i], x[2i + 1]) against P_0,
 * P_1, ... (W_0, W_1, ... and W_1, W_2, ...). With n odd, pixels 1 and 3 take the same words:
 * x[1] * w_0 (SMLATB) then W_1, W_2, ... against Q_0, Q_1, ..., and the last tap of pixels 0
 * and 2 is an SMLABB: 2n + 2 multiplies, (n + 3) / 2 loads of x and (n + 1) / 2 LDRDs of
 * weights for the 4 pixels. With n even, pixels 1 and 3 take the words
 * U_i = (x[2i + 1], x[2i + 2]) against the P_i: 2n multiplies, n + 2 loads, n / 4 LDRDs. */
#if defined(__ARM_FEATURE_DSP) && !defined(TME_EMULATE_DSP) && defined(__OPTIMIZE__)
/* Written in assembly on Arm: GCC's register allocation of the C below varies from layer to
 * layer by up to 20% of the loop (spills, per-tap address arithmetic). 10 registers: the 4
 * sums, x, the weights, 2 words of x (e, o) and 2 of weights (P, Q). Offsets: xo, wo bytes. */
#define TME_DW_ASM_ 1
#define TME_DW_ODD_HEAD_(S1, S3)                                                           \
  "ldr %[e], [%[x], #%c[xo]]\n\t"                                                          \
  "ldr %[o], [%[x], #%c[xo]+4]\n\t"                                                        \
  "ldrd %[P], %[Q], [%[w], #%c[wo]]\n\t"                                                   \
  "smlatb %[a1], %[e], %[P], %[" S1 "]\n\t"                                                \
  "smlatb %[a3], %[o], %[P], %[" S3 "]\n\t"
/* taps 2i, 2i + 1 of pixels 0, 2 and 2i + 1, 2i + 2 of pixels 1, 3 (E: W_i, O: W_(i+1));
 * S0 .. S3: what the sums add to, themselves or, in a group's first taps, the bias b */
#define TME_DW_ODD_STEP_(E, O, i, S0, S2)                                                  \
  "smlad %[a0], %[" E "], %[P], %[" S0 "]\n\t"                                             \
  "smlad %[a2], %[" O "], %[P], %[" S2 "]\n\t"                                             \
  "ldr %[" E "], [%[x], #%c[xo]+4*" #i "+8]\n\t"                                          \
  "smlad %[a1], %[" O "], %[Q], %[a1]\n\t"                                                 \
  "smlad %[a3], %[" E "], %[Q], %[a3]\n\t"                                                 \
  "ldrd %[P], %[Q], [%[w], #%c[wo]+8*" #i "+8]\n\t"
#define TME_DW_ODD_TAIL_(E, O, S0, S2)                                                     \
  "smlabb %[a0], %[" E "], %[P], %[" S0 "]\n\t"                                            \
  "smlabb %[a2], %[" O "], %[P], %[" S2 "]"
/* P_i of pixels 0..3 (E: W_i, O: U_i) */
#define TME_DW_EVEN_STEP_(PI, i, S0, S1, S2, S3)                                           \
  "smlad %[a0], %[e], %[" PI "], %[" S0 "]\n\t"                                            \
  "smlad %[a1], %[o], %[" PI "], %[" S1 "]\n\t"                                            \
  "ldr %[e], [%[x], #%c[xo]+4*" #i "+4]\n\t"                                              \
  "ldr %[o], [%[x], #%c[xo]+4*" #i "+6]\n\t"                                              \
  "smlad %[a2], %[e], %[" PI "], %[" S2 "]\n\t"                                            \
  "smlad %[a3], %[o], %[" PI "], %[" S3 "]\n\t"
#define TME_DW_EVEN_HEAD_                                                                  \
  "ldr %[e], [%[x], #%c[xo]]\n\t"                                                          \
  "ldr %[o], [%[x], #%c[xo]+2]\n\t"
#define TME_DW_LDRD_(i) "ldrd %[P], %[Q], [%[w], #%c[wo]+8*" #i "]\n\t"
/* the code for n taps, S0 .. S3 what the sums add to first */
#define TME_DW_ODD1_(S0, S1, S2, S3) TME_DW_ODD_HEAD_(S1, S3) TME_DW_ODD_TAIL_("e", "o", S0, S2)
#define TME_DW_ODD3_(S0, S1, S2, S3)                                                       \
  TME_DW_ODD_HEAD_(S1, S3) TME_DW_ODD_STEP_("e", "o", 0, S0, S2)                           \
  TME_DW_ODD_TAIL_("o", "e", "a0", "a2")
#define TME_DW_ODD5_(S0, S1, S2, S3)                                                       \
  TME_DW_ODD_HEAD_(S1, S3) TME_DW_ODD_STEP_("e", "o", 0, S0, S2)                           \
  TME_DW_ODD_STEP_("o", "e", 1, "a0", "a2") TME_DW_ODD_TAIL_("e", "o", "a0", "a2")
#define TME_DW_ODD7_(S0, S1, S2, S3)                                                       \
  TME_DW_ODD_HEAD_(S1, S3) TME_DW_ODD_STEP_("e", "o", 0, S0, S2)                           \
  TME_DW_ODD_STEP_("o", "e", 1, "a0", "a2") TME_DW_ODD_STEP_("e", "o", 2, "a0", "a2")        \
  TME_DW_ODD_TAIL_("o", "e", "a0", "a2")
#define TME_DW_ODD9_(S0, S1, S2, S3)                                                       \
  TME_DW_ODD_HEAD_(S1, S3) TME_DW_ODD_STEP_("e", "o", 0, S0, S2)                           \
  TME_DW_ODD_STEP_("o", "e", 1, "a0", "a2") TME_DW_ODD_STEP_("e", "o", 2, "a0", "a2")        \
  TME_DW_ODD_STEP_("o", "e", 3, "a0", "a2") TME_DW_ODD_TAIL_("e", "o", "a0", "a2")
#define TME_DW_EVEN2_(S0, S1, S2, S3)                                                      \
  TME_DW_EVEN_HEAD_ TME_DW_LDRD_(0) TME_DW_EVEN_STEP_("P", 0, S0, S1, S2, S3)
#define TME_DW_EVEN4_(S0, S1, S2, S3)                                                      \
  TME_DW_EVEN2_(S0, S1, S2, S3) TME_DW_EVEN_STEP_("Q", 1, "a0", "a1", "a2", "a3")
#define TME_DW_EVEN6_(S0, S1, S2, S3)                                                      \
  TME_DW_EVEN4_(S0, S1, S2, S3) TME_DW_LDRD_(1) TME_DW_EVEN_STEP_("P", 2, "a0", "a1", "a2", "a3")
#define TME_DW_EVEN8_(S0, S1, S2, S3)                                                      \
  TME_DW_EVEN6_(S0, S1, S2, S3) TME_DW_EVEN_STEP_("Q", 3, "a0", "a1", "a2", "a3")
#define TME_DW_SWITCH_(RUN, S0, S1, S2, S3)                                                \
  switch (n) {                                                                             \
    case 1: RUN(TME_DW_ODD1_(S0, S1, S2, S3)); break;                                      \
    case 3: RUN(TME_DW_ODD3_(S0, S1, S2, S3)); break;                                      \
    case 5: RUN(TME_DW_ODD5_(S0, S1, S2, S3)); break;                                      \
    case 7: RUN(TME_DW_ODD7_(S0, S1, S2, S3)); break;                                      \
    case 9: RUN(TME_DW_ODD9_(S0, S1, S2, S3)); break;                                      \
    case 2: RUN(TME_DW_EVEN2_(S0, S1, S2, S3)); break;                                     \
    case 4: RUN(TME_DW_EVEN4_(S0, S1, S2, S3)); break;                                     \
    case 6: RUN(TME_DW_EVEN6_(S0, S1, S2, S3)); break;                                     \
    default: RUN(TME_DW_EVEN8_(S0, S1, S2, S3)); break;                                    \
  }
#endif

TME_INLINE void tme_dw_ring_taps(const tme_i16 *x, int32_t xo, int32_t n, const uint64_t *wq,
                                 int32_t wo, int32_t *a, int first, int32_t b, int near) {
#ifdef TME_DW_ASM_
  /* near: the offsets fit LDR's 12 bits; constants: the loops unrolled (not at -Os, -Og) */
  if (n <= 9 && near && __builtin_constant_p(xo) && __builtin_constant_p(wo)) {
    uint32_t e, o, P, Q;
#define TME_DW_ASM_RUN_(code)                                                              \
  __asm__(code                                                                             \
          : [a0] "+r"(a[0]), [a1] "+r"(a[1]), [a2] "+r"(a[2]), [a3] "+r"(a[3]),             \
            [e] "=&r"(e), [o] "=&r"(o), [P] "=&r"(P), [Q] "=&r"(Q)                          \
          : [x] "r"(x), [w] "r"(wq), [xo] "i"(2 * xo), [wo] "i"(8 * wo)                     \
          : "memory")
#define TME_DW_ASM_FIRST_(code)                                                            \
  __asm__(code                                                                             \
          : [a0] "=&r"(a[0]), [a1] "=&r"(a[1]), [a2] "=&r"(a[2]), [a3] "=&r"(a[3]),         \
            [e] "=&r"(e), [o] "=&r"(o), [P] "=&r"(P), [Q] "=&r"(Q)                          \
          : [x] "r"(x), [w] "r"(wq), [xo] "i"(2 * xo), [wo] "i"(8 * wo), [b] "r"(b)         \
          : "memory")
    if (first) {
      TME_DW_SWITCH_(TME_DW_ASM_FIRST_, "b", "b", "b", "b")
    } else {
      TME_DW_SWITCH_(TME_DW_ASM_RUN_, "a0", "a1", "a2", "a3")
    }
#undef TME_DW_ASM_RUN_
#undef TME_DW_ASM_FIRST_
    return;
  }
#endif
  (void)near;
  if (first)
    for (int32_t j = 0; j < 4; ++j) a[j] = b;
  x += xo;
  wq += wo;
  if (n % 2) {
    uint32_t W[TME_DW_TAPS_MAX / 2 + 2], P = 0, Q = 0;
    for (int32_t i = 0; i < (n + 3) / 2; ++i) W[i] = tme_load32(x + 2 * i);
    for (int32_t j = 0; j < n; j += 2) {
      P = (uint32_t)wq[j / 2];
      Q = (uint32_t)(wq[j / 2] >> 32);
      if (j == 0) {  /* pixels 1 and 3, tap 0 */
        a[1] = tme_smlatb(W[0], P, a[1]);
        a[3] = tme_smlatb(W[1], P, a[3]);
      }
      if (j + 1 == n) {  /* pixels 0 and 2, the last tap */
        a[0] = tme_smlabb(W[j / 2], P, a[0]);
        a[2] = tme_smlabb(W[j / 2 + 1], P, a[2]);
      } else {
        a[0] = tme_smlad(W[j / 2], P, a[0]);
        a[2] = tme_smlad(W[j / 2 + 1], P, a[2]);
        a[1] = tme_smlad(W[j / 2 + 1], Q, a[1]);
        a[3] = tme_smlad(W[j / 2 + 2], Q, a[3]);
      }
    }
  } else {
    for (int32_t i = 0; 2 * i < n; ++i) {
      const uint32_t P = (uint32_t)(wq[i / 2] >> (i % 2 * 32));
      a[0] = tme_smlad(tme_load32(x + 2 * i), P, a[0]);
      a[1] = tme_smlad(tme_load32(x + 2 * i + 1), P, a[1]);
      a[2] = tme_smlad(tme_load32(x + 2 * i + 2), P, a[2]);
      a[3] = tme_smlad(tme_load32(x + 2 * i + 3), P, a[3]);
    }
  }
}

/* DSP path: one output row of channel c (its bytes c apart from orow on), TME_DW_RING_N output
 * pixels at a time (tme_dw_ring_taps). A group past the row's end computes columns the ring
 * holds (its rows are sized for groups of 16) and stores only the pixels there are. The sums
 * start at `b`: the bias plus in_offset * sum(w). */
#define TME_DW_RING_N 4
TME_INLINE void tme_dw_ring_out(const tme_dw_params *p, const tme_i16 *rows, int32_t rot,
                                const tme_dw_chan *ch, int8_t *orow) {
  const int32_t slot_len = p->stride_w * p->ring_w, R = tme_dw_row_words(p);
  /* rot: (k_h - the slot of kernel row 0) mod k_h; slot q holds kernel row (q + rot) mod k_h,
   * whose weights are R words apart from wr on */
  const uint64_t *wr = ch->w + (size_t)rot * (size_t)R;
  for (int32_t ox = 0; ox < p->out_w; ox += TME_DW_RING_N) {
    int32_t a[TME_DW_RING_N];  /* from the bias on: tme_dw_ring_taps' first taps */
    TME_PRAGMA_(GCC unroll 16)
    for (int32_t q = 0; q < p->k_h; ++q) {
      int32_t wo = q * R;
      TME_PRAGMA_(GCC unroll 4)
      for (int32_t ph = 0; ph < p->stride_w; ++ph) {
        const int32_t n = (p->k_w - ph + p->stride_w - 1) / p->stride_w;
        tme_dw_ring_taps(rows + ox, q * slot_len + ph * p->ring_w, n, wr, wo, a,
                         q == 0 && ph == 0, ch->b, 2 * p->k_h * slot_len <= 4096 - 64);
        wo += tme_dw_words(n);
      }
    }
    TME_PRAGMA_(GCC unroll 4)
    for (int32_t j = 0; j < TME_DW_RING_N; ++j)
      if (p->out_w % TME_DW_RING_N == 0 || ox + j < p->out_w)
        orow[(size_t)(ox + j) * (size_t)p->c] = tme_requant_s8(
            a[j], ch->m, ch->h, p->out_offset, p->act_min, p->act_max, p->right_shift);
  }
}

#else /* portable path */

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

#endif /* TME_DSP */

TME_INLINE void tme_dw_inplace_s8(const tme_dw_params *p, int8_t *data, const int8_t *w,
                                  const int32_t *bias, const int32_t *mult, const int8_t *shift,
                                  uint8_t *scratch) {
  const int32_t slot_len = p->stride_w * p->ring_w;
  tme_i16 *const rows = (tme_i16 *)(void *)scratch;                 /* k_h slots */
#if TME_DSP
  const int32_t e = 0;
  tme_dw_chan ch;
#else
  const int32_t e = p->in_offset;
#endif
  const int32_t pad = e - p->in_offset;
  for (int32_t i = 0; i < p->k_h * slot_len; ++i) rows[i] = (int16_t)pad;
  for (int32_t c = 0; c < p->c; ++c) {
#if TME_DSP
    ch.b = tme_add_wrap(bias[c], tme_dw_pairs(p, w, c, ch.w));
    ch.m = mult[c];
    ch.h = shift[c];
#endif
    /* input row iy goes to slot (iy + pad_top) % k_h: counted, not divided */
    int32_t iy = -p->pad_top, slot = 0;  /* the next input row to copy, its slot */
#if TME_DSP
    int32_t rot = 0;  /* (k_h - the slot of the first input row of output row oy) mod k_h */
#endif
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_top;
      const int32_t need = iy0 + (p->k_h - 1) * p->dil_h;
      for (; iy <= need; ++iy) {
        if (iy >= iy0)
          tme_dw_ring_row(p, data, c, iy, e, pad, rows + (size_t)slot * (size_t)slot_len);
        slot = slot + 1 == p->k_h ? 0 : slot + 1;
      }
      int8_t *orow = data + (size_t)oy * (size_t)p->out_w * (size_t)p->c + (size_t)c;
#if TME_DSP
      tme_dw_ring_out(p, rows, rot, &ch, orow);
      for (int32_t i = 0; i < p->stride_h; ++i) rot = rot == 0 ? p->k_h - 1 : rot - 1;
#else
      tme_dw_ring_out(p, rows, iy0, c, w, bias, mult, shift, orow);
#endif
    }
  }
}

#endif /* TME_DWCONV_H */
