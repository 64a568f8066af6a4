/* MEAN over H and W: the sum of (x - in_zp) of each channel, requantized once. */
#include "tme_mean.h"

void tme_mean_hw_s8(const tme_mean_params *p, const int8_t *in, int8_t *out) {
  for (int32_t c = 0; c < p->channels; ++c) {
    int32_t acc = 0;
    for (int32_t i = 0; i < p->count; ++i) acc += (int32_t)in[(size_t)i * p->channels + c] - p->in_zero_point;
    acc = tme_add_wrap(tme_requant(acc, p->mult, p->shift), p->out_zero_point);
    out[c] = tme_clamp_s8(acc, TME_INT8_MIN, TME_INT8_MAX);
  }
}
