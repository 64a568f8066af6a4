/* MEAN over H and W as TFLite's reference_integer_ops::Mean: sum of (x - in_zp), rescaled by
 * in_scale / out_scale, then divided by the element count rounding half away from zero. */
#include "tme_mean.h"

void tme_mean_hw_s8(const tme_mean_params *p, const int8_t *in, int8_t *out) {
  const int32_t count = p->in_h * p->in_w;
  for (int32_t c = 0; c < p->channels; ++c) {
    int32_t acc = 0;
    for (int32_t i = 0; i < count; ++i) acc += (int32_t)in[(size_t)i * p->channels + c] - p->in_zero_point;
    acc = tme_requant(acc, p->mult, p->shift);
    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    out[c] = tme_clamp_s8(acc + p->out_zero_point, TME_INT8_MIN, TME_INT8_MAX);
  }
}
