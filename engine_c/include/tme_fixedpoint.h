/* gemmlowp fixed-point math on int32 raw values, as TFLite Micro's reference kernels use it.
 *
 * A value with I integer bits is raw / 2^(31 - I). Multiplication is tme_srdhm (the integer
 * bits add up), additions are plain. The functions below are the ones the int8 SOFTMAX,
 * LOGISTIC and TANH kernels need, with gemmlowp's exact rounding and saturation.
 */
#ifndef TME_FIXEDPOINT_H
#define TME_FIXEDPOINT_H

#include "tme_common.h"

/* Two's-complement wrapping addition and subtraction (gemmlowp's Add/Sub, without the UB). */
static inline int32_t tme_fp_add(int32_t a, int32_t b) {
  return (int32_t)(uint32_t)((uint32_t)a + (uint32_t)b);
}
static inline int32_t tme_fp_sub(int32_t a, int32_t b) {
  return (int32_t)(uint32_t)((uint32_t)a - (uint32_t)b);
}

/* gemmlowp SaturatingRoundingMultiplyByPOT for a positive exponent: saturating left shift. */
static inline int32_t tme_fp_sat_shl(int32_t x, int exponent) {
  const int32_t threshold = (int32_t)((1LL << (31 - exponent)) - 1);
  if (x > threshold) return INT32_MAX;
  if (x < -threshold) return INT32_MIN;
  return tme_shl(x, exponent);
}

/* Number of leading zero bits of x (32 for 0), as TFLite's CountLeadingZeros. */
int tme_fp_clz(uint32_t x);

/* exp(a) for a <= 0, a with `integer_bits` (1..5) integer bits; the result has 0. */
int32_t tme_fp_exp_on_negative_values(int32_t a, int integer_bits);

/* 1 / (1 + a) for a in [0, 1), both with 0 integer bits. */
int32_t tme_fp_one_over_one_plus_x_for_x_in_0_1(int32_t a);

/* 1 / (1 + exp(-a)), a with `integer_bits` integer bits; the result has 0. */
int32_t tme_fp_logistic(int32_t a, int integer_bits);

/* tanh(a), a with `integer_bits` (0..4) integer bits; the result has 0. */
int32_t tme_fp_tanh(int32_t a, int integer_bits);

/* TFLite's GetReciprocal: 1/x scaled into [0.5, 1) with 0 integer bits, and the number of
 * bits x (with `x_integer_digits` integer bits) has above 1.0. */
int32_t tme_fp_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit);

#endif /* TME_FIXEDPOINT_H */
