/* tflm-mcunet engine: integer helpers shared by every kernel.
 *
 * The arithmetic is TFLite Micro's reference arithmetic (gemmlowp fixed point, double
 * rounding), so that every kernel gives the same bytes as the reference runtime.
 */
#ifndef TME_COMMON_H
#define TME_COMMON_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

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

/* Kernels specialised per layer: the generated code calls them with `static const` parameter
 * structs from one small function per layer, and the compiler folds the layer's shapes, strides
 * and offsets into each inlined copy. */
#if defined(__GNUC__)
#define TME_INLINE static inline __attribute__((always_inline))
#define TME_NOINLINE __attribute__((noinline))
#define TME_PRAGMA_(x) _Pragma(#x)
#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define TME_UNROLL(n) /* microcontrollers: code size first */
#else
#define TME_UNROLL(n) TME_PRAGMA_(GCC unroll n)
#endif
#else
#define TME_INLINE static inline
#define TME_NOINLINE
#define TME_PRAGMA_(x)
#define TME_UNROLL(n)
#endif

/* The function of one layer: never inlined into the invoke function and, with GCC, opaque to
 * interprocedural analysis. GCC 12's induction-variable rewriting can address the arena as
 * "0 + address", which its pure/const analysis then takes for a null dereference: it concludes
 * that the layer has no effect and deletes the call. noipa keeps the call. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8
#define TME_LAYER __attribute__((noipa))
#else
#define TME_LAYER TME_NOINLINE
#endif

/* 16-bit values in the arena (whose declared type is a byte array) without breaking the
 * aliasing rules of optimising compilers. */
#if defined(__GNUC__)
typedef int16_t __attribute__((__may_alias__)) tme_i16;
#else
typedef int16_t tme_i16;
#endif

/* Load 4 bytes from any address (one LDR on Cortex-M3 and up, which allow unaligned words). */
static inline uint32_t tme_load32(const void *p) {
  uint32_t v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline void tme_store32(void *p, uint32_t v) { memcpy(p, &v, sizeof v); }

/* Load 8 bytes from an address that is a multiple of 8 as two words (one LDRD on Cortex-M,
 * which faults on an unaligned LDRD: callers pass scratch rows, which the planner aligns). */
#if defined(__GNUC__)
#define TME_ALIGNED8(p) __builtin_assume_aligned((p), 8)
#else
#define TME_ALIGNED8(p) (p)
#endif
static inline void tme_load64(const void *p, uint32_t *lo, uint32_t *hi) {
  uint64_t v;
  memcpy(&v, TME_ALIGNED8(p), sizeof v);
  *lo = (uint32_t)v;
  *hi = (uint32_t)(v >> 32);  /* little-endian: the word at p + 4 */
}

/* The Arm DSP extension (Cortex-M4, M7, M33...): SXTB16/UXTB16 split 4 bytes into two pairs of
 * 16-bit lanes, SMLAD multiplies two pairs and adds both products to an accumulator (two MACs per
 * instruction). TME_DSP selects the kernels written for it. They give the same bytes as the
 * portable kernels: the sums are exact integer sums, added in another order.
 * TME_EMULATE_DSP runs the same kernels on any machine with these instructions written in C
 * (to test the DSP path on the host); TME_NO_DSP forces the portable kernels. */
#if defined(__ARM_FEATURE_DSP) && !defined(TME_NO_DSP) && !defined(TME_EMULATE_DSP)
#define TME_DSP 1
#include <arm_acle.h>
static inline uint32_t tme_sxtb16(uint32_t x) { return (uint32_t)__sxtb16((int32_t)x); }
static inline uint32_t tme_uxtb16(uint32_t x) { return (uint32_t)__uxtb16((int32_t)x); }
static inline uint32_t tme_sxtb16_ror8(uint32_t x) {
  uint32_t r;
  __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}
static inline uint32_t tme_uxtb16_ror8(uint32_t x) {
  uint32_t r;
  __asm__("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
  return r;
}
/* each 16-bit lane of a plus the sign-extended byte 0 / byte 2 (ror8: byte 1 / byte 3) of x */
static inline uint32_t tme_sxtab16(uint32_t a, uint32_t x) {
  return (uint32_t)__sxtab16((int32_t)a, (int32_t)x);
}
static inline uint32_t tme_sxtab16_ror8(uint32_t a, uint32_t x) {
  uint32_t r;
  __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
  return r;
}
static inline int32_t tme_smlad(uint32_t x, uint32_t y, int32_t acc) {
  return __smlad((int32_t)x, (int32_t)y, acc);
}
/* bottom (B) or top (T) 16-bit lane of x times that of y, plus acc */
static inline int32_t tme_smlabb(uint32_t x, uint32_t y, int32_t acc) {
  return __smlabb((int32_t)x, (int32_t)y, acc);
}
static inline int32_t tme_smlatb(uint32_t x, uint32_t y, int32_t acc) {
  return __smlatb((int32_t)x, (int32_t)y, acc);
}
static inline int32_t tme_smlabt(uint32_t x, uint32_t y, int32_t acc) {
  return __smlabt((int32_t)x, (int32_t)y, acc);
}
static inline int32_t tme_smlatt(uint32_t x, uint32_t y, int32_t acc) {
  return __smlatt((int32_t)x, (int32_t)y, acc);
}
#elif defined(TME_EMULATE_DSP)
#define TME_DSP 1
static inline int32_t tme_lo16_(uint32_t x) { return (int32_t)(int16_t)(uint16_t)(x & 0xFFFFu); }
static inline int32_t tme_hi16_(uint32_t x) { return (int32_t)(int16_t)(uint16_t)(x >> 16); }
static inline uint32_t tme_sxtb16(uint32_t x) {
  const uint32_t lo = (uint32_t)(int32_t)(int8_t)(uint8_t)(x & 0xFFu) & 0xFFFFu;
  const uint32_t hi = (uint32_t)(int32_t)(int8_t)(uint8_t)((x >> 16) & 0xFFu) & 0xFFFFu;
  return lo | (hi << 16);
}
static inline uint32_t tme_uxtb16(uint32_t x) { return x & 0x00FF00FFu; }
static inline uint32_t tme_sxtb16_ror8(uint32_t x) { return tme_sxtb16((x >> 8) | (x << 24)); }
static inline uint32_t tme_uxtb16_ror8(uint32_t x) { return tme_uxtb16((x >> 8) | (x << 24)); }
static inline uint32_t tme_sxtab16(uint32_t a, uint32_t x) {  /* 16-bit lanes wrap */
  const uint32_t e = tme_sxtb16(x);
  return (((a & 0xFFFFu) + (e & 0xFFFFu)) & 0xFFFFu) | (((a >> 16) + (e >> 16)) << 16);
}
static inline uint32_t tme_sxtab16_ror8(uint32_t a, uint32_t x) {
  return tme_sxtab16(a, (x >> 8) | (x << 24));
}
static inline int32_t tme_smlad(uint32_t x, uint32_t y, int32_t acc) {  /* wraps, as SMLAD */
  const uint32_t sum = (uint32_t)(tme_lo16_(x) * tme_lo16_(y)) + (uint32_t)(tme_hi16_(x) * tme_hi16_(y));
  return (int32_t)((uint32_t)acc + sum);
}
static inline int32_t tme_smlabb(uint32_t x, uint32_t y, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(tme_lo16_(x) * tme_lo16_(y)));
}
static inline int32_t tme_smlatb(uint32_t x, uint32_t y, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(tme_hi16_(x) * tme_lo16_(y)));
}
static inline int32_t tme_smlabt(uint32_t x, uint32_t y, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(tme_lo16_(x) * tme_hi16_(y)));
}
static inline int32_t tme_smlatt(uint32_t x, uint32_t y, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(tme_hi16_(x) * tme_hi16_(y)));
}
#else
#define TME_DSP 0
#endif

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

/* x86 hosts with AVX2 (-mavx2, -march=x86-64-v3 or newer, -march=native on most machines):
 * TME_AVX2 selects kernels written with its intrinsics where the compiler's own vectorisation
 * falls short (VPMADDWD: 16 MACs per instruction; the requantization 8 lanes at a time). The
 * same bytes as the portable kernels: exact integer sums, and tme_requant8 below is
 * tme_requant_s8 lane by lane. TME_NO_AVX2 forces the portable kernels. */
#if defined(__AVX2__) && !TME_DSP && !defined(TME_NO_AVX2)
#define TME_AVX2 1
#include <immintrin.h>

/* The requantization constants of 8 channels, in lanes. */
typedef struct {
  __m256i mult, left, right, out_offset, act_min, act_max;
} tme_requant8_consts;

/* Channels [c, c + 8) of a layer whose shifts are `shift` (stored as s = -shift - 2 when
 * right_shift, see tme_requant_right: the same value either way). */
static inline tme_requant8_consts tme_requant8_load(const int32_t *mult, const int8_t *shift,
                                                    int32_t c, int32_t out_offset,
                                                    int32_t act_min, int32_t act_max,
                                                    int32_t right_shift) {
  const __m256i zero = _mm256_setzero_si256();
  __m256i sh = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(shift + c)));
  if (right_shift) sh = _mm256_sub_epi32(_mm256_set1_epi32(-2), sh);
  tme_requant8_consts k;
  k.mult = _mm256_loadu_si256((const __m256i *)(const void *)(mult + c));
  k.left = _mm256_max_epi32(sh, zero);
  k.right = _mm256_max_epi32(_mm256_sub_epi32(zero, sh), zero);
  k.out_offset = _mm256_set1_epi32(out_offset);
  k.act_min = _mm256_set1_epi32(act_min);
  k.act_max = _mm256_set1_epi32(act_max);
  return k;
}

/* The constants of one rescaling for every lane (an ADD's: no offset or clamp unless given). */
static inline tme_requant8_consts tme_requant8_same(int32_t mult, int32_t shift, int32_t offset,
                                                    int32_t lo, int32_t hi) {
  tme_requant8_consts k;
  k.mult = _mm256_set1_epi32(mult);
  k.left = _mm256_set1_epi32(shift > 0 ? shift : 0);
  k.right = _mm256_set1_epi32(shift > 0 ? 0 : -shift);
  k.out_offset = _mm256_set1_epi32(offset);
  k.act_min = _mm256_set1_epi32(lo);
  k.act_max = _mm256_set1_epi32(hi);
  return k;
}

/* tme_requant_s8 of 8 sums (the bias included) in int32 lanes: tme_requant_pos step by step
 * (the 64-bit products of the even and the odd lanes apart), the output offset, the clamp. */
static inline __m256i tme_requant8(__m256i x, const tme_requant8_consts *k) {
  const __m256i nudge = _mm256_set1_epi64x(1LL << 30), one = _mm256_set1_epi32(1);
  x = _mm256_sllv_epi32(x, k->left);
  /* (x * m + 2^30) >> 31 in each 64-bit lane: its low 32 bits are the same for a logical
   * shift as for an arithmetic one */
  const __m256i even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, k->mult), nudge),
                                         31);
  const __m256i odd = _mm256_srli_epi64(
      _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32),
                                        _mm256_srli_epi64(k->mult, 32)), nudge), 31);
  const __m256i y = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  /* RoundingDivideByPOT: (y >> r) + (remainder > threshold) */
  const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, k->right), one);
  const __m256i threshold = _mm256_sub_epi32(_mm256_srai_epi32(mask, 1),
                                             _mm256_cmpgt_epi32(_mm256_setzero_si256(), y));
  __m256i v = _mm256_sub_epi32(_mm256_srav_epi32(y, k->right),
                               _mm256_cmpgt_epi32(_mm256_and_si256(y, mask), threshold));
  v = _mm256_add_epi32(v, k->out_offset);  /* wraps, as tme_add_wrap */
  return _mm256_min_epi32(_mm256_max_epi32(v, k->act_min), k->act_max);
}

/* 8 lanes of values in the int8 range, as 8 bytes. */
static inline void tme_store8_s8(int8_t *dst, __m256i v) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  _mm_storel_epi64((__m128i *)(void *)dst, _mm_packs_epi16(w, w));
}
#else
#define TME_AVX2 0
#endif

#endif /* TME_COMMON_H */
