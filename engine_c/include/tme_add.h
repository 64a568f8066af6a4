/* ADD, SUB and SQUARED_DIFFERENCE on int8 tensors, with numpy-style broadcasting over up to 4
 * dimensions: the binary ops whose inputs TFLite Micro first rescales to a common scale (both
 * shifted left by `left_shift`, then multiplied by their input multipliers), then combines, then
 * rescales to the output. One parameter struct for the three. */
#ifndef TME_ADD_H
#define TME_ADD_H

#include "tme_avx2.h"
#include "tme_common.h"

typedef struct {
  int32_t dims[4];                       /* output shape */
  int32_t stride1[4], stride2[4];        /* element strides of each input (0 = broadcast) */
  int32_t in1_offset, in2_offset, out_offset;
  int32_t in1_mult, in1_shift, in2_mult, in2_shift, out_mult, out_shift;
  int32_t left_shift;                    /* 20 (ADD, SUB), 7 (SQUARED_DIFFERENCE) */
  int32_t act_min, act_max;
} tme_add_params;

/* One element of TFLite's reference integer add: both inputs are shifted left by
 * `left_shift` (20) and rescaled to twice the larger input scale, summed, then rescaled to
 * the output. Also the epilogue of a convolution with a fused residual add. The multipliers
 * are those of positive scale ratios (non-negative): tme_requant_pos gives tme_requant's
 * result without branches (vectorised loops). On the DSP path, when the shifts are <= 0 and
 * the left shift at most 20 (every int8 ADD: the rescaled values stay below 2^28 and their sum
 * below 2^29), tme_requant_small does each rescaling in a few instructions; the parameters are
 * a layer's constants, so the choice folds.
 * With `subtract` (a constant: SUB), the rescaled second input is subtracted instead, as
 * TFLite Micro's reference Sub: the same bounds hold for the difference. */
TME_INLINE int8_t tme_add_sub_element(const tme_add_params *p, int8_t a, int8_t b,
                                      int subtract) {
  const int32_t xa = tme_shl((int32_t)a + p->in1_offset, p->left_shift);
  const int32_t xb = tme_shl((int32_t)b + p->in2_offset, p->left_shift);
  int32_t sum;
#if TME_DSP
  if (p->left_shift <= 20 && p->in1_shift <= 0 && p->in2_shift <= 0 && p->out_shift <= 0) {
    const int32_t x1 = tme_requant_small(xa, p->in1_mult, p->in1_shift);
    const int32_t x2 = tme_requant_small(xb, p->in2_mult, p->in2_shift);
    sum = subtract ? x1 - x2 : x1 + x2;
    sum = tme_add_wrap(tme_requant_small(sum, p->out_mult, p->out_shift), p->out_offset);
    return tme_clamp_act(sum, p->act_min, p->act_max);
  }
#endif
  const int32_t x1 = tme_requant_pos(xa, p->in1_mult, p->in1_shift);
  const int32_t x2 = tme_requant_pos(xb, p->in2_mult, p->in2_shift);
  sum = subtract ? x1 - x2 : x1 + x2;
  sum = tme_add_wrap(tme_requant_pos(sum, p->out_mult, p->out_shift), p->out_offset);
  return tme_clamp_s8(sum, p->act_min, p->act_max);
}

TME_INLINE int8_t tme_add_element(const tme_add_params *p, int8_t a, int8_t b) {
  return tme_add_sub_element(p, a, b, 0);
}

/* A residual ADD fused into the epilogue of a convolution: out = add(conv result, skip)
 * element by element, with the conv result as the ADD's first input when conv_is_first, else
 * its second. */
typedef struct {
  tme_add_params add;
  int32_t conv_is_first;
} tme_residual_params;

TME_INLINE int8_t tme_residual_element(const tme_residual_params *r, int8_t conv, int8_t skip) {
  return r->conv_is_first ? tme_add_element(&r->add, conv, skip)
                          : tme_add_element(&r->add, skip, conv);
}

#if TME_AVX2
/* tme_add_element on 8 lanes of int8 values (in int32 lanes). */
static inline __m256i tme_add8(const tme_add_params *p, __m256i a, __m256i b) {
  const __m128i left = _mm_cvtsi32_si128(p->left_shift);
  const tme_requant8_consts k1 = tme_requant8_same(p->in1_mult, p->in1_shift, 0, INT32_MIN,
                                                   INT32_MAX);
  const tme_requant8_consts k2 = tme_requant8_same(p->in2_mult, p->in2_shift, 0, INT32_MIN,
                                                   INT32_MAX);
  const tme_requant8_consts ko = tme_requant8_same(p->out_mult, p->out_shift, p->out_offset,
                                                   p->act_min, p->act_max);
  const __m256i xa = _mm256_sll_epi32(_mm256_add_epi32(a, _mm256_set1_epi32(p->in1_offset)), left);
  const __m256i xb = _mm256_sll_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(p->in2_offset)), left);
  const __m256i sum = _mm256_add_epi32(tme_requant8(xa, &k1), tme_requant8(xb, &k2));
  return tme_requant8(sum, &ko);
}

/* 8 requantized convolution outputs (int32 lanes) with a fused residual, stored at out + i:
 * the 8 skip values at the same indices are read first. */
static inline void tme_residual8_store(const tme_residual_params *r, __m256i conv,
                                       const int8_t *skip, size_t i, int8_t *out) {
  const __m256i s = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(
      skip + i)));
  tme_store8_s8(out + i, r->conv_is_first ? tme_add8(&r->add, conv, s)
                                          : tme_add8(&r->add, s, conv));
}
#endif

void tme_add_s8(const tme_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);

/* SUB: in1 - in2, ADD's arithmetic but for the sign of the second input. */
void tme_sub_s8(const tme_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);

/* SQUARED_DIFFERENCE: (rescaled in1 - rescaled in2)^2, requantized to the output (TFLite Micro's
 * int8 path: left_shift 7, an output multiplier of any size, no fused activation: act_min and
 * act_max are the int8 range). */
void tme_squared_difference_s8(const tme_add_params *p, const int8_t *in1, const int8_t *in2,
                               int8_t *out);

#endif /* TME_ADD_H */
