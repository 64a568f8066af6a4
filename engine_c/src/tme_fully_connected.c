/* FULLY_CONNECTED: acc = bias + sum((x + in_offset) * (w + filter_offset)), requantized. */
#include "tme_fully_connected.h"

void tme_fully_connected_s8(const tme_fc_params *p, const int8_t *in, const int8_t *filter,
                            const int32_t *bias, const int32_t *mult, const int8_t *shift,
                            int8_t *out) {
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *x = in + (size_t)b * p->in_depth;
    for (int32_t o = 0; o < p->out_depth; ++o) {
      const int8_t *w = filter + (size_t)o * p->in_depth;
      int32_t acc = 0;
      for (int32_t i = 0; i < p->in_depth; ++i)
        acc += ((int32_t)x[i] + p->in_offset) * ((int32_t)w[i] + p->filter_offset);
      if (bias) acc = tme_add_wrap(acc, bias[o]);
      acc = tme_add_wrap(tme_requant(acc, mult[o], shift[o]), p->out_offset);
      out[(size_t)b * p->out_depth + o] = tme_clamp_s8(acc, p->act_min, p->act_max);
    }
  }
}
