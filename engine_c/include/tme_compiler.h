/* tflm-mcunet engine: compiler attributes and memory access shared by every kernel. */
#ifndef TME_COMPILER_H
#define TME_COMPILER_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

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

#endif /* TME_COMPILER_H */
