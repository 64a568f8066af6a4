/* HARD_SWISH int8 -> int8 as TFLite's reference_ops::HardSwish with HardSwishParams.
 *
 * The reference computes in int16_t: every intermediate is narrowed to 16 bits exactly where
 * it is in C++ (wrap16), and gemmlowp's int16 rounding helpers are reproduced bit for bit,
 * including RoundingDivideByPOT's behaviour for exponents of 16 and more. */
#include "tme_hard_swish.h"

/* Conversion to int16_t, two's-complement wrap-around (what the C++ conversions do). */
static int32_t wrap16(int32_t v) {
  return (int32_t)(((uint32_t)v & 0xFFFFu) ^ 0x8000u) - 0x8000;
}

/* gemmlowp SaturatingRoundingDoublingHighMul on int16. */
static int32_t srdhm16(int32_t a, int32_t b) {
  int32_t ab, nudge;
  if (a == INT16_MIN && b == INT16_MIN) return INT16_MAX;
  ab = a * b;
  nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  return wrap16((ab + nudge) / (1 << 15));
}

/* SaturatingDoublingHighMul: like srdhm16 but rounding toward zero. */
static int32_t sdhm16(int32_t a, int32_t b) {
  if (a == INT16_MIN && b == INT16_MIN) return INT16_MAX;
  return wrap16((a * b) / (1 << 15));
}

/* gemmlowp RoundingDivideByPOT on int16 (the mask is narrowed to 16 bits). */
static int32_t rdbpot16(int32_t x, int exponent) {
  const int32_t mask = exponent >= 16 ? -1 : (int32_t)((1L << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask < 0 ? -1 : (mask >> 1)) + (x < 0 ? 1 : 0);
  return wrap16((x >> exponent) + (remainder > threshold ? 1 : 0));
}

/* SaturatingLeftShift of the reference: value * 2^amount clamped to int16. */
static int32_t sat_shl16(int32_t value, int amount) {
  const int64_t r = (int64_t)value * ((int64_t)1 << amount);
  return r > INT16_MAX ? INT16_MAX : (r < INT16_MIN ? INT16_MIN : (int32_t)r);
}

void tme_hard_swish_s8(const tme_hard_swish_params *p, const int8_t *in, int8_t *out) {
  for (int32_t i = 0; i < p->size; ++i) {
    const int32_t input_value = wrap16((int32_t)in[i] - p->input_zero_point);
    const int32_t hires = wrap16(input_value * (1 << 7));
    const int32_t preshift_output = srdhm16(hires, p->output_multiplier);
    int32_t reluish = hires;
    int32_t value;
    if (p->reluish_exponent > 0) reluish = sat_shl16(reluish, p->reluish_exponent - 1);
    reluish = srdhm16(reluish, p->reluish_multiplier);
    if (p->reluish_exponent > 0) reluish = sat_shl16(reluish, 1);
    if (p->reluish_exponent < 0) reluish = rdbpot16(reluish, -p->reluish_exponent);
    reluish = (reluish + (1 << 15)) >> 1; /* [-1, 1] -> [0, 1] */
    value = sdhm16(reluish, preshift_output);
    value = rdbpot16(value, -p->output_exponent);
    value = wrap16(value + p->output_zero_point);
    out[i] = tme_clamp_s8(value, TME_INT8_MIN, TME_INT8_MAX);
  }
}
