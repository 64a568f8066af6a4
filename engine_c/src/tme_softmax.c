/* SOFTMAX int8 -> int8, TFLite Micro's reference (gemmlowp) integer path:
 * per row, the differences to the row maximum are rescaled to Q5.26, exponentiated with
 * exp_on_negative_values, summed in Q12.19, and every exp is multiplied by the fixed-point
 * reciprocal of the sum; differences below diff_min give the minimum output. */
#include "tme_softmax.h"

#include "tme_fixedpoint.h"

enum { kScaledDiffIntegerBits = 5, kAccumulationIntegerBits = 12 };

static int32_t scaled_exp(const tme_softmax_params *p, int32_t input_diff) {
  /* MultiplyByQuantizedMultiplierGreaterThanOne */
  const int32_t rescaled = tme_srdhm(tme_shl(input_diff, p->input_left_shift), p->input_multiplier);
  return tme_fp_exp_on_negative_values(rescaled, kScaledDiffIntegerBits);
}

void tme_softmax_s8(const tme_softmax_params *p, const int8_t *in, int8_t *out) {
  for (int32_t row = 0; row < p->outer; ++row) {
    const int8_t *x = in + (size_t)row * (size_t)p->depth;
    int8_t *y = out + (size_t)row * (size_t)p->depth;
    int32_t max_in_row = TME_INT8_MIN;
    int32_t sum_of_exps = 0;
    int num_bits_over_unit;
    int32_t shifted_scale;
    int exponent;
    for (int32_t c = 0; c < p->depth; ++c) max_in_row = tme_max_i32(max_in_row, x[c]);
    for (int32_t c = 0; c < p->depth; ++c) {
      const int32_t input_diff = (int32_t)x[c] - max_in_row;
      if (input_diff >= p->diff_min) {
        /* Rescale<12> of a Q0.31 value: rounding right shift by 12 */
        sum_of_exps = tme_fp_add(sum_of_exps,
                                 tme_rdbpot(scaled_exp(p, input_diff), kAccumulationIntegerBits));
      }
    }
    shifted_scale = tme_fp_reciprocal(sum_of_exps, kAccumulationIntegerBits, &num_bits_over_unit);
    exponent = num_bits_over_unit + 31 - 8;
    /* Past 31 when the sum of exps reaches 512 (e.g. 512 entries at the row maximum): TFLM
     * aborts on a CHECK there. Stay defined. */
    if (exponent > 31) exponent = 31;
    /* Read x[c] before writing y[c]: safe when the output overwrites the input. */
    for (int32_t c = 0; c < p->depth; ++c) {
      const int32_t input_diff = (int32_t)x[c] - max_in_row;
      if (input_diff >= p->diff_min) {
        const int32_t exp_in_0 = scaled_exp(p, input_diff);
        const int32_t unsat = tme_rdbpot(tme_srdhm(shifted_scale, exp_in_0), exponent);
        y[c] = tme_clamp_s8(unsat + TME_INT8_MIN, TME_INT8_MIN, TME_INT8_MAX);
      } else {
        y[c] = TME_INT8_MIN;
      }
    }
  }
}
