/* TANH int8 -> int8 as TFLite Micro's reference_integer_ops::Tanh: saturate outside the input
 * radius, else rescale to Q4.27, gemmlowp tanh, round to Q0.7 (no output zero point: TFLM
 * reads neither the output's scale nor its zero point). */
#include "tme_tanh.h"

#include "tme_fixedpoint.h"

enum { kInputIntegerBits = 4, kOutputFractionalBits = 7 };

void tme_tanh_s8(const tme_tanh_params *p, const int8_t *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t x = (int32_t)in[i] - p->input_zero_point;
    if (x <= -p->input_range_radius) {
      out[i] = TME_INT8_MIN;
    } else if (x >= p->input_range_radius) {
      out[i] = TME_INT8_MAX;
    } else {
      const int32_t x_q4 = tme_requant(x, p->input_multiplier, p->input_left_shift);
      const int32_t y_q0 = tme_fp_tanh(x_q4, kInputIntegerBits);
      const int32_t y = tme_rdbpot(y_q0, 31 - kOutputFractionalBits);
      out[i] = tme_clamp_s8(y, TME_INT8_MIN, TME_INT8_MAX);
    }
  }
}
