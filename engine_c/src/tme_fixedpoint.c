/* gemmlowp fixed-point functions (fixedpoint.h), written out for int32 raw values.
 *
 * Same operations in the same order as gemmlowp, so the results are bit-identical: products
 * are SaturatingRoundingDoublingHighMul, Rescale is a saturating left shift or a rounding
 * right shift, sums are plain (wrapping) additions. */
#include "tme_fixedpoint.h"

int tme_fp_clz(uint32_t x) {
  int n = 0;
  if (x == 0) return 32;
  while (!(x & 0x80000000u)) {
    x <<= 1;
    ++n;
  }
  return n;
}

/* exp(a) for a in [-1/4, 0), 0 integer bits: Taylor expansion around -1/8. */
static int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) {
  const int32_t constant_term = 1895147668;     /* exp(-1/8) */
  const int32_t constant_1_over_3 = 715827883;  /* 1/3 */
  const int32_t x = tme_fp_add(a, 1 << 28);     /* a + 1/8 */
  const int32_t x2 = tme_srdhm(x, x);
  const int32_t x3 = tme_srdhm(x2, x);
  const int32_t x4 = tme_srdhm(x2, x2);
  const int32_t x4_over_4 = tme_rdbpot(x4, 2);
  const int32_t poly = tme_rdbpot(
      tme_fp_add(tme_srdhm(tme_fp_add(x4_over_4, x3), constant_1_over_3), x2), 1);
  return tme_fp_add(constant_term, tme_srdhm(constant_term, tme_fp_add(x, poly)));
}

int32_t tme_fp_exp_on_negative_values(int32_t a, int integer_bits) {
  /* exp(-2^e) in Q0.31 for e = -2 .. 4 */
  static const int32_t multipliers[7] = {1672461947, 1302514674, 790015084, 290630308,
                                         39332535,   720401,     242};
  const int fractional_bits = 31 - integer_bits;
  const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
  const int32_t mask = one_quarter - 1;
  const int32_t a_mod_quarter_minus_one_quarter = tme_fp_sub(a & mask, one_quarter);
  /* Rescale<0> from `integer_bits` integer bits: saturating left shift */
  int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
      tme_fp_sat_shl(a_mod_quarter_minus_one_quarter, integer_bits));
  const int32_t remainder = tme_fp_sub(a_mod_quarter_minus_one_quarter, a);
  for (int e = -2; e <= 4; ++e) {
    if (integer_bits > e) {
      const int shift = fractional_bits + e;
      if (remainder & ((int32_t)1 << shift)) result = tme_srdhm(result, multipliers[e + 2]);
    }
  }
  /* gemmlowp clamps to 0 below -32 only for more than 5 integer bits: never here. */
  if (a == 0) result = INT32_MAX;
  return result;
}

/* 1 / (1 + a) for a in [0, 1) with 2 integer bits: Newton-Raphson division of 1 by the
 * denominator halved (gemmlowp's common first half of the two functions below). */
static int32_t one_over_one_plus_x_q2(int32_t a) {
  /* RoundingHalfSum(a, 1.0) */
  const int64_t sum = (int64_t)a + (int64_t)INT32_MAX;
  const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
  const int32_t constant_48_over_17 = 1515870810;
  const int32_t constant_neg_32_over_17 = -1010580540;
  const int32_t one_q2 = (int32_t)1 << 29;
  int32_t x = tme_fp_add(constant_48_over_17, tme_srdhm(half_denominator, constant_neg_32_over_17));
  for (int i = 0; i < 3; ++i) {
    const int32_t half_denominator_times_x = tme_srdhm(half_denominator, x);
    const int32_t one_minus_half_denominator_times_x = tme_fp_sub(one_q2, half_denominator_times_x);
    /* x * (1 - d x) has 4 integer bits; Rescale<2> shifts left by 2, saturating */
    x = tme_fp_add(x, tme_fp_sat_shl(tme_srdhm(x, one_minus_half_denominator_times_x), 2));
  }
  return x;
}

int32_t tme_fp_one_over_one_plus_x_for_x_in_0_1(int32_t a) {
  /* ExactMulByPot<-1> (1 integer bit, same raw), then Rescale<0>: saturating shift by 1 */
  return tme_fp_sat_shl(one_over_one_plus_x_q2(a), 1);
}

/* (1 - a) / (1 + a) for a in [0, 1), both with 0 integer bits. */
static int32_t one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a) {
  /* (2 / (1 + a)) - 1 in 2 integer bits, then Rescale<0>: saturating shift by 2 */
  return tme_fp_sat_shl(tme_fp_sub(one_over_one_plus_x_q2(a), (int32_t)1 << 29), 2);
}

int32_t tme_fp_logistic(int32_t a, int integer_bits) {
  if (a == 0) return (int32_t)1 << 30; /* 0.5 */
  {
    const int positive = a > 0;
    const int32_t abs_input = positive ? a : tme_fp_sub(0, a);
    const int32_t result_if_positive = tme_fp_one_over_one_plus_x_for_x_in_0_1(
        tme_fp_exp_on_negative_values(tme_fp_sub(0, abs_input), integer_bits));
    return positive ? result_if_positive : tme_fp_sub(INT32_MAX, result_if_positive);
  }
}

int32_t tme_fp_tanh(int32_t a, int integer_bits) {
  if (a == 0) return 0;
  {
    /* tanh(|a|) = (1 - exp(-2|a|)) / (1 + exp(-2|a|)): -|a| doubled is the same raw value
     * with one more integer bit (ExactMulByPot<1>) */
    const int32_t neg_abs = a < 0 ? a : tme_fp_sub(0, a);
    const int32_t t = one_minus_x_over_one_plus_x_for_x_in_0_1(
        tme_fp_exp_on_negative_values(neg_abs, integer_bits + 1));
    return a < 0 ? tme_fp_sub(0, t) : t;
  }
}

int32_t tme_fp_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit) {
  const int headroom_plus_one = tme_fp_clz((uint32_t)x);
  uint32_t shifted;
  *num_bits_over_unit = x_integer_digits - headroom_plus_one;
  shifted = headroom_plus_one >= 32 ? 0u : ((uint32_t)x << headroom_plus_one);
  return tme_fp_one_over_one_plus_x_for_x_in_0_1((int32_t)(shifted - (1u << 31)));
}
