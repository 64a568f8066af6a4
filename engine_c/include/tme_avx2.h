/* tflm-mcunet engine: the AVX2 requantization of 8 lanes at a time that the TME_AVX2
 * kernels use (tme_isa.h). */
#ifndef TME_AVX2_H
#define TME_AVX2_H

#include <stdint.h>

#include "tme_isa.h"

#if TME_AVX2

/* The requantization constants of 8 channels, in lanes. */
typedef struct {
  __m256i mult, left, right, out_offset, act_min, act_max;
} tme_requant8_consts;

/* Channels [c, c + 8) of a layer whose shifts are `shift` (stored as s = -shift - 2 when
 * right_shift, see tme_requant_right: the same value either way). */
static inline tme_requant8_consts tme_requant8_load(const int32_t *mult, const int8_t *shift,
                                                    int32_t c, int32_t out_offset,
                                                    int32_t act_min, int32_t act_max,
                                                    int32_t right_shift) {
  const __m256i zero = _mm256_setzero_si256();
  __m256i sh = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(shift + c)));
  if (right_shift) sh = _mm256_sub_epi32(_mm256_set1_epi32(-2), sh);
  tme_requant8_consts k;
  k.mult = _mm256_loadu_si256((const __m256i *)(const void *)(mult + c));
  k.left = _mm256_max_epi32(sh, zero);
  k.right = _mm256_max_epi32(_mm256_sub_epi32(zero, sh), zero);
  k.out_offset = _mm256_set1_epi32(out_offset);
  k.act_min = _mm256_set1_epi32(act_min);
  k.act_max = _mm256_set1_epi32(act_max);
  return k;
}

/* The constants of one rescaling for every lane (an ADD's: no offset or clamp unless given). */
static inline tme_requant8_consts tme_requant8_same(int32_t mult, int32_t shift, int32_t offset,
                                                    int32_t lo, int32_t hi) {
  tme_requant8_consts k;
  k.mult = _mm256_set1_epi32(mult);
  k.left = _mm256_set1_epi32(shift > 0 ? shift : 0);
  k.right = _mm256_set1_epi32(shift > 0 ? 0 : -shift);
  k.out_offset = _mm256_set1_epi32(offset);
  k.act_min = _mm256_set1_epi32(lo);
  k.act_max = _mm256_set1_epi32(hi);
  return k;
}

/* tme_requant_s8 of 8 sums (the bias included) in int32 lanes: tme_requant_pos step by step
 * (the 64-bit products of the even and the odd lanes apart), the output offset, the clamp. */
static inline __m256i tme_requant8(__m256i x, const tme_requant8_consts *k) {
  const __m256i nudge = _mm256_set1_epi64x(1LL << 30), one = _mm256_set1_epi32(1);
  x = _mm256_sllv_epi32(x, k->left);
  /* (x * m + 2^30) >> 31 in each 64-bit lane: its low 32 bits are the same for a logical
   * shift as for an arithmetic one */
  const __m256i even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, k->mult), nudge),
                                         31);
  const __m256i odd = _mm256_srli_epi64(
      _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32),
                                        _mm256_srli_epi64(k->mult, 32)), nudge), 31);
  const __m256i y = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  /* RoundingDivideByPOT: (y >> r) + (remainder > threshold) */
  const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, k->right), one);
  const __m256i threshold = _mm256_sub_epi32(_mm256_srai_epi32(mask, 1),
                                             _mm256_cmpgt_epi32(_mm256_setzero_si256(), y));
  __m256i v = _mm256_sub_epi32(_mm256_srav_epi32(y, k->right),
                               _mm256_cmpgt_epi32(_mm256_and_si256(y, mask), threshold));
  v = _mm256_add_epi32(v, k->out_offset);  /* wraps, as tme_add_wrap */
  return _mm256_min_epi32(_mm256_max_epi32(v, k->act_min), k->act_max);
}

/* 8 lanes of values in the int8 range, as 8 bytes. */
static inline void tme_store8_s8(int8_t *dst, __m256i v) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  _mm_storel_epi64((__m128i *)(void *)dst, _mm_packs_epi16(w, w));
}
#endif

#endif /* TME_AVX2_H */
