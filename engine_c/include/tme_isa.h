/* tflm-mcunet engine: which instruction-set path the kernels take (TME_DSP, TME_AVX2, else
 * the portable reference). Each kernel family's header selects its path with these. */
#ifndef TME_ISA_H
#define TME_ISA_H

/* The Arm DSP extension (Cortex-M4, M7, M33...): SXTB16/UXTB16 split 4 bytes into two pairs of
 * 16-bit lanes, SMLAD multiplies two pairs and adds both products to an accumulator (two MACs per
 * instruction). TME_DSP selects the kernels written for it. They give the same bytes as the
 * portable kernels: the sums are exact integer sums, added in another order.
 * TME_EMULATE_DSP runs the same kernels on any machine with these instructions written in C
 * (to test the DSP path on the host); TME_NO_DSP forces the portable kernels. */
#if defined(__ARM_FEATURE_DSP) && !defined(TME_NO_DSP) && !defined(TME_EMULATE_DSP)
#define TME_DSP 1
#include <arm_acle.h>
#elif defined(TME_EMULATE_DSP)
#define TME_DSP 1
#else
#define TME_DSP 0
#endif

/* x86 hosts with AVX2 (-mavx2, -march=x86-64-v3 or newer, -march=native on most machines):
 * TME_AVX2 selects kernels written with its intrinsics where the compiler's own vectorisation
 * falls short (VPMADDWD: 16 MACs per instruction; the requantization 8 lanes at a time). The
 * same bytes as the portable kernels: exact integer sums, and tme_requant8 (tme_avx2.h) is
 * tme_requant_s8 lane by lane. TME_NO_AVX2 forces the portable kernels. */
#if defined(__AVX2__) && !TME_DSP && !defined(TME_NO_AVX2)
#define TME_AVX2 1
#include <immintrin.h>
#else
#define TME_AVX2 0
#endif

#endif /* TME_ISA_H */
