/* RELU / RELU6 (activations.cc) and LEAKY_RELU (leaky_relu.cc) int8 with TFLite Micro's
 * semantics. */
#include "tme_relu.h"

void tme_relu_s8(const tme_relu_params *p, const int8_t *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t v = tme_add_wrap(
        p->out_offset, tme_requant((int32_t)in[i] - p->in_offset, p->multiplier, p->shift));
    out[i] = tme_clamp_s8(v, p->act_min, p->act_max);
  }
}

void tme_relu6_s8(const tme_relu6_params *p, const int8_t *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t v = in[i];
    out[i] = (int8_t)(v > p->upper ? p->upper : (v < p->lower ? p->lower : v));
  }
}

void tme_leaky_relu_s8(const tme_leaky_relu_params *p, const int8_t *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t x = (int32_t)in[i] - p->in_offset;
    const int32_t scaled = x >= 0 ? tme_requant(x, p->mult_identity, p->shift_identity)
                                  : tme_requant(x, p->mult_alpha, p->shift_alpha);
    out[i] = tme_clamp_s8(tme_add_wrap(p->out_offset, scaled), TME_INT8_MIN, TME_INT8_MAX);
  }
}
