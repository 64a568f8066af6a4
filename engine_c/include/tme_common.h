/* tflm-mcunet engine: integer helpers shared by every kernel.
 *
 * The arithmetic is TFLite Micro's reference arithmetic (gemmlowp fixed point, double
 * rounding), so that every kernel gives the same bytes as the reference runtime.
 */
#ifndef TME_COMMON_H
#define TME_COMMON_H

#include <stdint.h>
#include <stddef.h>

#define TME_INT8_MIN (-128)
#define TME_INT8_MAX 127

static inline int32_t tme_min_i32(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t tme_max_i32(int32_t a, int32_t b) { return a > b ? a : b; }

static inline int8_t tme_clamp_s8(int32_t x, int32_t lo, int32_t hi) {
  return (int8_t)(x < lo ? lo : (x > hi ? hi : x));
}

/* Two's-complement wrapping int32 addition. TFLite Micro adds biases and output offsets in
 * plain int32 arithmetic, which wraps on every target it runs on when a sum leaves the int32
 * range (a bias saturated at INT32_MAX by a tiny weight scale, a requantized value near the
 * limits after a large rescale factor); the same sums here wrap the same way, with no
 * undefined behaviour. */
static inline int32_t tme_add_wrap(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* gemmlowp SaturatingRoundingDoublingHighMul: round(a * b / 2^31), saturating INT32_MIN^2. */
static inline int32_t tme_srdhm(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  int64_t ab = (int64_t)a * (int64_t)b;
  int64_t nudge = ab >= 0 ? (1LL << 30) : (1 - (1LL << 30));
  return (int32_t)((ab + nudge) / (1LL << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent rounded half away from zero. */
static inline int32_t tme_rdbpot(int32_t x, int exponent) {
  int32_t mask = (int32_t)((1LL << exponent) - 1);
  int32_t remainder = x & mask;
  int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* Left shift that wraps like the two's-complement hardware instead of being undefined. */
static inline int32_t tme_shl(int32_t x, int shift) {
  return (int32_t)((uint32_t)x << shift);
}

/* TFLite's MultiplyByQuantizedMultiplier: x * multiplier * 2^(shift - 31), double rounding. */
static inline int32_t tme_requant(int32_t x, int32_t multiplier, int32_t shift) {
  int left = shift > 0 ? shift : 0;
  int right = shift > 0 ? 0 : -shift;
  return tme_rdbpot(tme_srdhm(tme_shl(x, left), multiplier), right);
}

#endif /* TME_COMMON_H */
