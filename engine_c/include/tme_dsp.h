/* tflm-mcunet engine: the Arm DSP instructions the TME_DSP kernels use (tme_isa.h), as
 * intrinsics, or written in C with TME_EMULATE_DSP (the DSP path tested on the host). */
#ifndef TME_DSP_H
#define TME_DSP_H

#include <stdint.h>

#include "tme_isa.h"

#if TME_DSP && !defined(TME_EMULATE_DSP)
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
static inline int32_t tme_smlatt(uint32_t x, uint32_t y, int32_t acc) {
  return __smlatt((int32_t)x, (int32_t)y, acc);
}
#elif TME_DSP
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
static inline int32_t tme_smlatt(uint32_t x, uint32_t y, int32_t acc) {
  return (int32_t)((uint32_t)acc + (uint32_t)(tme_hi16_(x) * tme_hi16_(y)));
}
#endif

#endif /* TME_DSP_H */
