/* LOGISTIC int8 -> int8 as TFLite Micro's reference_integer_ops::Logistic: saturate outside the
 * input radius, else rescale to Q4.27, gemmlowp logistic, round to Q0.7 and add -128. */
#include "tme_logistic.h"

#include "tme_fixedpoint.h"

enum { kInputIntegerBits = 4, kOutputIntegerBits = 8 };

void tme_logistic_s8(const tme_logistic_params *p, const int8_t *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t x = (int32_t)in[i] - p->input_zero_point;
    if (x <= -p->input_range_radius) {
      out[i] = TME_INT8_MIN;
    } else if (x >= p->input_range_radius) {
      out[i] = TME_INT8_MAX;
    } else {
      const int32_t x_q4 = tme_requant(x, p->input_multiplier, p->input_left_shift);
      const int32_t y_q0 = tme_fp_logistic(x_q4, kInputIntegerBits);
      const int32_t y = tme_rdbpot(y_q0, 31 - kOutputIntegerBits) + TME_INT8_MIN;
      out[i] = tme_clamp_s8(y, TME_INT8_MIN, TME_INT8_MAX);
    }
  }
}
