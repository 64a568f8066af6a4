/* MUL int8 as TFLite Micro's reference_integer_ops::Mul / BroadcastMul4DSlow:
 * out = clamp(out_offset + requant((x1 + in1_offset) * (x2 + in2_offset))). */
#include "tme_mul.h"

static int8_t mul_one(const tme_mul_params *p, int32_t a, int32_t b) {
  const int32_t prod = (a + p->in1_offset) * (b + p->in2_offset);
  const int32_t v = tme_add_wrap(p->out_offset, tme_requant(prod, p->multiplier, p->shift));
  return tme_clamp_s8(v, p->act_min, p->act_max);
}

void tme_mul_s8(const tme_mul_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  if (!p->broadcast) {
    const int32_t n = p->dims[0] * p->dims[1] * p->dims[2] * p->dims[3];
    for (int32_t i = 0; i < n; ++i) out[i] = mul_one(p, in1[i], in2[i]);
    return;
  }
  {
    const size_t a0 = (size_t)p->stride1[0], a1 = (size_t)p->stride1[1];
    const size_t a2 = (size_t)p->stride1[2], a3 = (size_t)p->stride1[3];
    const size_t b0 = (size_t)p->stride2[0], b1 = (size_t)p->stride2[1];
    const size_t b2 = (size_t)p->stride2[2], b3 = (size_t)p->stride2[3];
    for (int32_t d0 = 0; d0 < p->dims[0]; ++d0) {
      for (int32_t d1 = 0; d1 < p->dims[1]; ++d1) {
        for (int32_t d2 = 0; d2 < p->dims[2]; ++d2) {
          const int8_t *a = in1 + (size_t)d0 * a0 + (size_t)d1 * a1 + (size_t)d2 * a2;
          const int8_t *b = in2 + (size_t)d0 * b0 + (size_t)d1 * b1 + (size_t)d2 * b2;
          for (int32_t d3 = 0; d3 < p->dims[3]; ++d3) {
            *out++ = mul_one(p, a[(size_t)d3 * a3], b[(size_t)d3 * b3]);
          }
        }
      }
    }
  }
}
