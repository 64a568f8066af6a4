/* LOGISTIC and TANH int8 -> int8 as TFLite Micro's reference_integer_ops::Logistic and ::Tanh:
 * saturate outside the input radius, else rescale to Q4.27, gemmlowp's logistic (tanh), round
 * to Q0.8 and add -128 (round to Q0.7: TFLM reads neither output's scale or zero point). */
#include "tme_logistic.h"

#include "tme_fixedpoint.h"

enum { kInputIntegerBits = 4 };

/* Both; `is_tanh` is a constant in each caller, so it folds. */
TME_INLINE void q4_activation_s8(const tme_logistic_params *p, const int8_t *in, int8_t *out,
                                 int is_tanh) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t x = (int32_t)in[i] - p->input_zero_point;
    if (x <= -p->input_range_radius) {
      out[i] = TME_INT8_MIN;
    } else if (x >= p->input_range_radius) {
      out[i] = TME_INT8_MAX;
    } else {
      const int32_t x_q4 = tme_requant(x, p->input_multiplier, p->input_left_shift);
      const int32_t y = is_tanh ? tme_rdbpot(tme_fp_tanh(x_q4, kInputIntegerBits), 31 - 7)
                             : tme_rdbpot(tme_fp_logistic(x_q4, kInputIntegerBits), 31 - 8) +
                                   TME_INT8_MIN;
      out[i] = tme_clamp_s8(y, TME_INT8_MIN, TME_INT8_MAX);
    }
  }
}

void tme_logistic_s8(const tme_logistic_params *p, const int8_t *in, int8_t *out) {
  q4_activation_s8(p, in, out, 0);
}

void tme_tanh_s8(const tme_logistic_params *p, const int8_t *in, int8_t *out) {
  q4_activation_s8(p, in, out, 1);
}
