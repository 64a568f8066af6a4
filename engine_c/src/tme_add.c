/* ADD as TFLite's reference integer add: both inputs are shifted left by `left_shift` (20) and
 * rescaled to twice the larger input scale, summed, then rescaled to the output. */
#include "tme_add.h"

void tme_add_s8(const tme_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  size_t o = 0;
  for (int32_t a = 0; a < p->dims[0]; ++a)
    for (int32_t b = 0; b < p->dims[1]; ++b)
      for (int32_t c = 0; c < p->dims[2]; ++c)
        for (int32_t d = 0; d < p->dims[3]; ++d, ++o) {
          const size_t i1 = (size_t)a * p->stride1[0] + (size_t)b * p->stride1[1] +
                            (size_t)c * p->stride1[2] + (size_t)d * p->stride1[3];
          const size_t i2 = (size_t)a * p->stride2[0] + (size_t)b * p->stride2[1] +
                            (size_t)c * p->stride2[2] + (size_t)d * p->stride2[3];
          const int32_t x1 = tme_shl((int32_t)in1[i1] + p->in1_offset, p->left_shift);
          const int32_t x2 = tme_shl((int32_t)in2[i2] + p->in2_offset, p->left_shift);
          const int32_t s1 = tme_requant(x1, p->in1_mult, p->in1_shift);
          const int32_t s2 = tme_requant(x2, p->in2_mult, p->in2_shift);
          const int32_t sum = tme_requant(s1 + s2, p->out_mult, p->out_shift) + p->out_offset;
          out[o] = tme_clamp_s8(sum, p->act_min, p->act_max);
        }
}
