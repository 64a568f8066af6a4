/* DEPTHWISE_CONV_2D on x86 with AVX2 (tme_dwconv.h selects it): the reference
 * (tme_dwconv_ref.h) with the raster kernel's pixels 16 channels at a time. */
#ifndef TME_DWCONV_AVX2_H
#define TME_DWCONV_AVX2_H

#include "tme_avx2.h"
#include "tme_dwconv_ref.h"

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

#endif /* TME_DWCONV_AVX2_H */
