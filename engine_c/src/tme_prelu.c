/* PRELU as TFLite Micro's reference BroadcastPrelu4DSlow: (x - zp) >= 0 is rescaled by
 * in/out, else (x - zp) * (alpha - alpha zp) by in * alpha / out; plus the output zero point,
 * clamped. The output is written in order, element i after its inputs are read. */
#include "tme_prelu.h"

void tme_prelu_s8(const tme_prelu_params *p, const int8_t *in, const int8_t *alpha,
                  int8_t *out) {
  size_t o = 0;
  for (int32_t a = 0; a < p->dims[0]; ++a)
    for (int32_t b = 0; b < p->dims[1]; ++b)
      for (int32_t c = 0; c < p->dims[2]; ++c) {
        const int8_t *x = in + (size_t)a * p->stride1[0] + (size_t)b * p->stride1[1] +
                          (size_t)c * p->stride1[2];
        const int8_t *s = alpha + (size_t)a * p->stride2[0] + (size_t)b * p->stride2[1] +
                          (size_t)c * p->stride2[2];
        for (int32_t d = 0; d < p->dims[3]; ++d, ++o) {
          const int32_t v = p->input_offset + x[(size_t)d * p->stride1[3]];
          int32_t y;
          if (v >= 0) {
            y = tme_requant(v, p->mult_identity, p->shift_identity);
          } else {
            const int32_t slope = p->alpha_offset + s[(size_t)d * p->stride2[3]];
            y = tme_requant(v * slope, p->mult_alpha, p->shift_alpha);
          }
          out[o] = tme_clamp_s8(y + p->output_offset, TME_INT8_MIN, TME_INT8_MAX);
        }
      }
}
