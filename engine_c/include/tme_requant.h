/* tflm-mcunet engine: the requantization arithmetic of every kernel.
 *
 * The arithmetic is TFLite Micro's reference arithmetic (gemmlowp fixed point, double
 * rounding), so that every kernel gives the same bytes as the reference runtime. The short
 * forms below take one or a few Arm instructions where the core has the DSP extension.
 */
#ifndef TME_REQUANT_H
#define TME_REQUANT_H

#include <stdint.h>

#include "tme_isa.h"

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

/* tme_requant for a non-negative multiplier (every convolution and fully connected layer: the
 * multiplier of a positive rescale factor is in [2^30, 2^31), or 0), written without branches so
 * that compilers vectorise it. Same result as tme_requant: with b >= 0 the INT32_MIN * INT32_MIN
 * saturation cannot happen, and SaturatingRoundingDoublingHighMul's truncating division of
 * (a * b + nudge) by 2^31 equals floor((a * b + 2^30) / 2^31) for either sign of a * b. */
static inline int32_t tme_requant_pos(int32_t x, int32_t multiplier, int32_t shift) {
  const int32_t left = tme_max_i32(shift, 0);
  const int32_t right = tme_max_i32(-shift, 0);  /* both without a branch */
  const int64_t ab = (int64_t)tme_shl(x, left) * multiplier;
  const int32_t y = (int32_t)((ab + (1LL << 30)) >> 31);
  const int32_t mask = (int32_t)((1u << right) - 1u);
  const int32_t threshold = (mask >> 1) + (y < 0 ? 1 : 0);
  return (y >> right) + ((y & mask) > threshold ? 1 : 0);
}

/* tme_requant_pos for 32-bit cores without vector units (the DSP path), in fewer instructions.
 * The multiplier must be 0 (with shift 0) or in [2^30, 2^31): what QuantizeMultiplier gives and
 * the converter emits. For a right shift r >= 1 the two roundings of tme_requant_pos are one:
 *   result = floor((t + 2^31 * (2^(r-1) - [t < 0])) / 2^(31 + r)),  t = x * m + 2^30,
 * because floor((floor(t / 2^31) + h) / 2^r) = floor((t + h * 2^31) / 2^(31 + r)) for an integer
 * h, and RoundingDivideByPOT(y, r) = floor((y + 2^(r-1) - [y < 0]) / 2^r), y < 0 exactly when
 * t < 0. With m >= 2^30, t < 0 exactly when x < 0 (x = -1, m = 2^30 gives t = 0 but the same
 * result). So with t' = x * m + 2^30 - [x < 0] * 2^31 = hi * 2^32 + lo, the result is
 * (hi + 2^(r-2)) >> (r - 1) for r >= 2 (lo cannot carry past a multiple of 2^(r-1)) and
 * (t' + 2^31) >> 32 for r = 1. tests/test_kernels.py checks it against tme_requant. */
static inline int32_t tme_requant_pos_single(int32_t x, int32_t multiplier, int32_t shift) {
  if (shift <= -2) {  /* the usual case: hi of t', one add and one shift */
    const int32_t sign = x < 0 ? -1 : 0;
#if defined(__ARM_FEATURE_DSP) && !defined(TME_EMULATE_DSP)
    /* (lo, hi) = 2^30 - [x < 0] * 2^31, then SMLAL adds x * m: one instruction */
    uint32_t lo = 0x40000000u | ((uint32_t)sign << 31);
    int32_t hi = sign;
    __asm__("smlal %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(x), "r"(multiplier));
#else
    const int32_t hi = (int32_t)(((int64_t)x * multiplier + (int64_t)sign * (1LL << 31) +
                                  (1LL << 30)) >> 32);
#endif
    return (hi + (1 << (-shift - 2))) >> (-shift - 1);
  }
  if (shift == -1) {
    const int64_t t = (int64_t)x * multiplier + (x < 0 ? -(1LL << 30) : (1LL << 30));
    return (int32_t)((t + (1LL << 31)) >> 32);
  }
  return (int32_t)(((int64_t)tme_shl(x, shift) * multiplier + (1LL << 30)) >> 31);
}

/* tme_requant_pos(x, multiplier, shift) + out_offset, s = -shift - 2, for a layer whose every
 * channel has a multiplier in [2^30, 2^31) and a shift of -2 or less (the converter checks and
 * then stores s in place of the shift: `right_shift` in the layer's parameters). It is
 * tme_requant_pos_single's usual case in the fewest instructions, the output offset added on
 * the way: (hi + 2^s) >> (s + 1) + out_offset = ((hi >> s) + 2 * out_offset + 1) >> 1, since
 * floor((floor(a / 2^s) + k) / 2) = floor((a + k * 2^s) / 2^(s + 1)) for an integer k; nothing
 * leaves int32. On the DSP path (lo, hi) = (2^30 - [x < 0] * 2^31, -[x < 0]) + x * m is three
 * instructions. */
static inline int32_t tme_requant_right(int32_t x, int32_t multiplier, int32_t s,
                                        int32_t out_offset) {
#if defined(__ARM_FEATURE_DSP) && !defined(TME_EMULATE_DSP)
  uint32_t lo;
  int32_t hi;
  __asm__("asr %1, %2, #31\n\t"
          "add %0, %3, %1, lsl #31\n\t"
          "smlal %0, %1, %2, %4"
          : "=&r"(lo), "=&r"(hi) : "r"(x), "r"(0x40000000u), "r"(multiplier));
  (void)lo;
#else
  const int32_t sign = x < 0 ? -1 : 0;
  const int32_t hi = (int32_t)(((int64_t)x * multiplier + (int64_t)sign * (1LL << 31) +
                                (1LL << 30)) >> 32);
#endif
  return ((hi >> s) + 2 * out_offset + 1) >> 1;
}

/* tme_requant for |x| < 2^30, a multiplier of 0 or in [2^30, 2^31) and a shift <= 0: the
 * rescalings of an ADD (inputs of 8 bits shifted left by 20, and their sum). 2x fits int32, and
 * SaturatingRoundingDoublingHighMul(x, m) = floor((x * m + 2^30) / 2^31) (see tme_requant_pos)
 * = floor((2x * m + 2^31) / 2^32): one SMMULR. RoundingDivideByPOT(y, r) =
 * (y + 2^(r-1) - [y < 0]) >> r. */
static inline int32_t tme_requant_small(int32_t x, int32_t multiplier, int32_t shift) {
#if defined(__ARM_FEATURE_DSP) && !defined(TME_EMULATE_DSP)
  int32_t y;
  __asm__("smmulr %0, %1, %2" : "=r"(y) : "r"(2 * x), "r"(multiplier));
#else
  const int32_t y = (int32_t)(((int64_t)(2 * x) * multiplier + (1LL << 31)) >> 32);
#endif
  if (shift == 0) return y;
  return (y + (1 << (-shift - 1)) + (y >> 31)) >> -shift;
}

/* Clamp to the fused activation range (within the int8 range): one SSAT on the DSP path when
 * the range is the whole int8 range, as for most layers. */
static inline int8_t tme_clamp_act(int32_t v, int32_t act_min, int32_t act_max) {
#if TME_DSP && defined(__ARM_FEATURE_DSP) && !defined(TME_EMULATE_DSP)
  v = __ssat(v, 8);
  if (act_min > TME_INT8_MIN) v = v < act_min ? act_min : v;
  if (act_max < TME_INT8_MAX) v = v > act_max ? act_max : v;
#else
  v = v < act_min ? act_min : v;
  v = v > act_max ? act_max : v;
#endif
  return (int8_t)v;
}

/* The epilogue of a convolution output: requantize (non-negative multiplier), add the output
 * offset (wrapping, as TFLite Micro's int32 arithmetic), clamp to the fused activation.
 * right_shift: the layer's channels take tme_requant_right, `shift` is its s (a constant of
 * the layer). */
static inline int8_t tme_requant_s8(int32_t acc, int32_t multiplier, int32_t shift,
                                    int32_t out_offset, int32_t act_min, int32_t act_max,
                                    int32_t right_shift) {
  int32_t v;
  if (right_shift)
    v = tme_requant_right(acc, multiplier, shift, out_offset);
  else
#if TME_DSP
    v = tme_add_wrap(tme_requant_pos_single(acc, multiplier, shift), out_offset);
#else
    v = tme_add_wrap(tme_requant_pos(acc, multiplier, shift), out_offset);
#endif
  return tme_clamp_act(v, act_min, act_max);
}

#endif /* TME_REQUANT_H */
