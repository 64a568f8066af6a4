/* ADD, SUB and SQUARED_DIFFERENCE with broadcasting: the output is written in order, element i
 * after its inputs are read, so the output may overlap an input of its own shape (the planner
 * relies on that). */
#include "tme_add.h"

enum { TME_ADD, TME_SUB, TME_SQUARED_DIFFERENCE };

/* TFLite Micro's SquaredDifference<int8_t>: both inputs shifted left by 7 and rescaled
 * (MultiplyByQuantizedMultiplierSmallerThanOneExp: non-negative multipliers, shifts <= 0), the
 * difference squared (below 2^30: |difference| <= 2 * 255 * 2^7 / 2), requantized with
 * MultiplyByQuantizedMultiplier (any shift), the output offset added (wrapping, as int32). */
static int8_t squared_difference_element(const tme_add_params *p, int8_t a, int8_t b) {
  const int32_t x1 = tme_requant_pos(tme_shl((int32_t)a + p->in1_offset, p->left_shift),
                                     p->in1_mult, p->in1_shift);
  const int32_t x2 = tme_requant_pos(tme_shl((int32_t)b + p->in2_offset, p->left_shift),
                                     p->in2_mult, p->in2_shift);
  const int32_t diff = x1 - x2;
  const int32_t v = tme_add_wrap(tme_requant(diff * diff, p->out_mult, p->out_shift),
                                 p->out_offset);
  return tme_clamp_s8(v, p->act_min, p->act_max);
}

/* The broadcasting loop of the three; `op` is a constant in each caller, so it folds. */
TME_INLINE void binary_s8(const tme_add_params *p, const int8_t *in1, const int8_t *in2,
                          int8_t *out, int op) {
  size_t o = 0;
  for (int32_t a = 0; a < p->dims[0]; ++a)
    for (int32_t b = 0; b < p->dims[1]; ++b)
      for (int32_t c = 0; c < p->dims[2]; ++c)
        for (int32_t d = 0; d < p->dims[3]; ++d, ++o) {
          const size_t i1 = (size_t)a * p->stride1[0] + (size_t)b * p->stride1[1] +
                            (size_t)c * p->stride1[2] + (size_t)d * p->stride1[3];
          const size_t i2 = (size_t)a * p->stride2[0] + (size_t)b * p->stride2[1] +
                            (size_t)c * p->stride2[2] + (size_t)d * p->stride2[3];
          out[o] = op == TME_SQUARED_DIFFERENCE
                       ? squared_difference_element(p, in1[i1], in2[i2])
                       : tme_add_sub_element(p, in1[i1], in2[i2], op == TME_SUB);
        }
}

void tme_add_s8(const tme_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  binary_s8(p, in1, in2, out, TME_ADD);
}

void tme_sub_s8(const tme_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  binary_s8(p, in1, in2, out, TME_SUB);
}

void tme_squared_difference_s8(const tme_add_params *p, const int8_t *in1, const int8_t *in2,
                               int8_t *out) {
  binary_s8(p, in1, in2, out, TME_SQUARED_DIFFERENCE);
}
