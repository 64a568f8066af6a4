/* The Cortex-M assembly of the DSP path's matrix product (tme_gemm_dsp.h): macros that
 * expand to nothing off Arm (emulated or unoptimised builds take the C steps). */
#ifndef TME_GEMM_DSP_ASM_H
#define TME_GEMM_DSP_ASM_H

/* The same step in one block of Cortex-M assembly, the pointers walking on: pa (row 0), pb
 * (row 1) and pw (channel 0; channel 1 is k4 bytes on). As one block the compiler cannot
 * interleave steps, so the 4 sums and the step's 6 values stay in registers. Row 1 is read 2 * k4
 * bytes past row 0 when that fits LDRD's offset (k4 <= 512: pb is not used), through pb
 * otherwise. k4 must be a compile-time constant (always when optimising), at most 4092. */
#if defined(__ARM_FEATURE_DSP) && !defined(TME_EMULATE_DSP) && defined(__OPTIMIZE__)
#define TME_GEMM_ASM_K4_MAX 4092
#define TME_GEMM_ASM_UNROLLED_K 32  /* rows of at most this many values: the steps unrolled */
#define TME_GEMM_ASM_LOOP_K 512  /* TME_GEMM_ASM_LOOP_K_ takes rows of at most this many values */
#define TME_UNPAREN_(...) __VA_ARGS__
/* One step (4 values of k, 16 MACs) reading the rows at A0 and A1, the weights at W1 and W0. */
#define TME_GEMM_ASM_STEP_(A0, A1, W1, W0)                                                     \
  "ldrd %[xa], %[xb], " A0 "\n\t"                                                               \
  "ldrd %[ya], %[yb], " A1 "\n\t"                                                               \
  "ldr %[lo], " W1 "\n\t"                                                                       \
  "sxtb16 %[hi], %[lo], ror #8\n\t"                                                             \
  "sxtb16 %[lo], %[lo]\n\t"                                                                     \
  "smlad %[s01], %[xa], %[lo], %[s01]\n\t"                                                      \
  "smlad %[s11], %[ya], %[lo], %[s11]\n\t"                                                      \
  "smlad %[s01], %[xb], %[hi], %[s01]\n\t"                                                      \
  "smlad %[s11], %[yb], %[hi], %[s11]\n\t"                                                      \
  "ldr %[lo], " W0 "\n\t"                                                                       \
  "sxtb16 %[hi], %[lo], ror #8\n\t"                                                             \
  "sxtb16 %[lo], %[lo]\n\t"                                                                     \
  "smlad %[s00], %[xa], %[lo], %[s00]\n\t"                                                      \
  "smlad %[s10], %[ya], %[lo], %[s10]\n\t"                                                      \
  "smlad %[s00], %[xb], %[hi], %[s00]\n\t"                                                      \
  "smlad %[s10], %[yb], %[hi], %[s10]\n\t"
#define TME_GEMM_ASM_(A1, PB_OPERAND, PB_MEMORY, K)                                             \
  do {                                                                                          \
    uint32_t xa_, xb_, ya_, yb_, lo_, hi_;                                                      \
    __asm__(TME_GEMM_ASM_STEP_("[%[pa]], #8", A1, "[%[pw], %[w1]]", "[%[pw]], #4")            \
            : [s00] "+r"(s00), [s01] "+r"(s01), [s10] "+r"(s10), [s11] "+r"(s11),               \
              [pa] "+r"(pa), [pw] "+r"(pw), [xa] "=&r"(xa_), [xb] "=&r"(xb_), [ya] "=&r"(ya_),   \
              [yb] "=&r"(yb_), [lo] "=&r"(lo_), [hi] "=&r"(hi_) TME_UNPAREN_ PB_OPERAND         \
            : [w1] "i"(K), [row1] "i"(2 * (K) - 8), "m"(*(const uint8_t(*)[8])(pa)),            \
              "m"(*(const int8_t(*)[4])(pw)), "m"(*(const int8_t(*)[4])((pw) + (K))),           \
              "m"(PB_MEMORY));                                                                  \
  } while (0)
#define TME_GEMM_STEP_2X2_NEAR(pa, pw, K)                                                      \
  TME_GEMM_ASM_("[%[pa], %[row1]]", (),                                                       \
                *(const uint8_t(*)[8])((pa) + 2 * (K)), K)
#define TME_GEMM_STEP_2X2_FAR(pa, pb, pw, K)                                                   \
  TME_GEMM_ASM_("[%[pb]], #8", (, [pb] "+r"(pb)),                                            \
                *(const uint8_t(*)[8])(pb), K)
/* A row pair times every channel pair, the epilogue included, as one loop of assembly, for
 * layers without a fused residual, with a right shift (tme_requant_right) and no clamp besides
 * the int8 range. As one block the compiler cannot spill around it: the pointers stay in
 * registers and the 10 values of a step are reused for the epilogue (the C loop spends about
 * 12 to 30 instructions more per 2x2 block). Rows at a and a + 2 * K, the weights [OC][K],
 * outputs at po and po + OC, c = 2 * out_offset + 1; the shifts de[0] bytes after po (both
 * walk 2 bytes per pair: one pointer in memory for the two), the loop's end de[1] (pb's).
 * - TME_GEMM_ASM_LOOP_UNROLLED_: k4 <= TME_GEMM_ASM_UNROLLED_K, the steps written out.
 * - TME_GEMM_ASM_LOOP_K_: a loop along k, U steps at a time (a walks and is set back; the
 *   multipliers' pointer waits in memory for the loop's end register). */
#define TME_GEMM_ASM_LOOP 1
/* The first step of the unrolled loop (k = K0): the sums of row 1 start from those of row 0,
 * the biases (their first SMLADs read them before row 0's). */
#define TME_GEMM_ASM_STEP0_(K0)                                                                 \
  "ldrd %[xa], %[xb], [%[a], #2 * " K0 "]\n\t"                                                  \
  "ldrd %[ya], %[yb], [%[a], #2 * " K0 " + 2 * %c[k]]\n\t"                                      \
  "ldr %[lo], [%[pw], #" K0 " + %c[k]]\n\t"                                                     \
  "sxtb16 %[hi], %[lo], ror #8\n\t"                                                             \
  "sxtb16 %[lo], %[lo]\n\t"                                                                     \
  "smlad %[s11], %[ya], %[lo], %[s01]\n\t"                                                      \
  "smlad %[s01], %[xa], %[lo], %[s01]\n\t"                                                      \
  "smlad %[s01], %[xb], %[hi], %[s01]\n\t"                                                      \
  "smlad %[s11], %[yb], %[hi], %[s11]\n\t"                                                      \
  "ldr %[lo], [%[pw], #" K0 "]\n\t"                                                             \
  "sxtb16 %[hi], %[lo], ror #8\n\t"                                                             \
  "sxtb16 %[lo], %[lo]\n\t"                                                                     \
  "smlad %[s10], %[ya], %[lo], %[s00]\n\t"                                                      \
  "smlad %[s00], %[xa], %[lo], %[s00]\n\t"                                                      \
  "smlad %[s00], %[xb], %[hi], %[s00]\n\t"                                                      \
  "smlad %[s10], %[yb], %[hi], %[s10]\n\t"
/* The sums start at the biases. */
#define TME_GEMM_ASM_BIAS_                                                                      \
  "ldrd %[s00], %[s01], [%[pb]], #8\n\t"                                                        \
  "mov %[s10], %[s00]\n\t"                                                                      \
  "mov %[s11], %[s01]\n\t"
/* One output: tme_requant_right of sum S, the output offset added, saturated to int8, into S.
 * tme_requant_right's hi is Y >> 1 for Y = floor((2 * S * m + 2^31) / 2^32) - [S < 0], and
 * with M = 2 * m - 2^32 (m in [2^30, 2^31): M is 2m as a 32-bit value) Y is one SMMLAR,
 * (A * 2^32 + S * M + 2^31) >> 32 with A = S - [S < 0]: the S * 2^32 terms cancel (modulo
 * 2^32, and Y fits). Then hi >> s = Y >> (s + 1), the shift in xb's bottom byte. */
#define TME_GEMM_ASM_Q_(S, M)                                                                   \
  "add %[yb], %[" S "], %[" S "], asr #31\n\t"                                                  \
  "smmlar %[yb], %[" S "], %[" M "], %[yb]\n\t"                                                 \
  "asr %[yb], %[yb], %[xb]\n\t"                                                                 \
  "add %[yb], %[yb], #%c[c]\n\t"                                                                \
  "ssat %[" S "], #8, %[yb], asr #1\n\t"
/* The 4 outputs of the block (the multipliers already in lo, hi), the loop's end. */
#define TME_GEMM_ASM_EPILOGUE_                                                                  \
  "lsl %[lo], %[lo], #1\n\t"                                                                    \
  "lsl %[hi], %[hi], #1\n\t"                                                                    \
  "ldr %[xa], %[po]\n\t"                                                                        \
  "ldrd %[xb], %[ya], %[de]\n\t" /* dsh, end */                                                 \
  "ldrh %[xb], [%[xa], %[xb]]\n\t" /* the shifts, dsh bytes after the outputs */                \
  "add %[xb], %[xb], #0x101\n\t" /* s + 1 in both bytes */                                      \
  TME_GEMM_ASM_Q_("s00", "lo")                                                                  \
  TME_GEMM_ASM_Q_("s10", "lo")                                                                  \
  "lsr %[xb], %[xb], #8\n\t"                                                                    \
  TME_GEMM_ASM_Q_("s01", "hi")                                                                  \
  TME_GEMM_ASM_Q_("s11", "hi")                                                                  \
  "strb %[s01], [%[xa], #1]\n\t"                                                                \
  "strb %[s10], [%[xa], #%c[oc]]\n\t"                                                           \
  "strb %[s11], [%[xa], #%c[oc] + 1]\n\t"                                                       \
  "strb %[s00], [%[xa]], #2\n\t"                                                                \
  "str %[xa], %[po]\n\t"                                                                        \
  "cmp %[pb], %[ya]\n\t"                                                                        \
  "bne 1b"
#define TME_GEMM_ASM_TEMPS_                                                                     \
  [s00] "=&r"(s00_), [s01] "=&r"(s01_), [s10] "=&r"(s10_), [s11] "=&r"(s11_), [xa] "=&r"(xa_), \
  [xb] "=&r"(xb_), [ya] "=&r"(ya_), [yb] "=&r"(yb_), [lo] "=&r"(lo_), [hi] "=&r"(hi_)
#define TME_GEMM_ASM_LOOP_UNROLLED_(K, OC, C)                                                  \
  __asm__ volatile(                                                                             \
      "1:\n\t"                                                                                  \
      "ldrd %[s00], %[s01], [%[pb]], #8\n\t"                                                    \
      /* the last step first, the first one last (its load of channel 0 moves pw on) */        \
      TME_GEMM_ASM_STEP0_("(%c[k] - 4)")                                                        \
      ".if %c[k] > 4\n\t"                                                                       \
      ".set tme_gemm_k_, 4\n\t"                                                                 \
      ".rept %c[k] / 4 - 2\n\t"                                                                 \
      TME_GEMM_ASM_STEP_("[%[a], #2 * tme_gemm_k_]", "[%[a], #2 * tme_gemm_k_ + 2 * %c[k]]",     \
                         "[%[pw], #tme_gemm_k_ + %c[k]]", "[%[pw], #tme_gemm_k_]")               \
      ".set tme_gemm_k_, tme_gemm_k_ + 4\n\t"                                                   \
      ".endr\n\t"                                                                               \
      TME_GEMM_ASM_STEP_("[%[a]]", "[%[a], #2 * %c[k]]", "[%[pw], #%c[k]]",                     \
                         "[%[pw]], #2 * %c[k]")                                                 \
      ".else\n\t"                                                                               \
      "add %[pw], %[pw], #2 * %c[k]\n\t"                                                        \
      ".endif\n\t"                                                                              \
      "ldrd %[lo], %[hi], [%[pm]], #8\n\t"                                                      \
      TME_GEMM_ASM_EPILOGUE_                                                                    \
      : TME_GEMM_ASM_TEMPS_, [pw] "+r"(pw_), [pb] "+r"(pb_), [pm] "+r"(pm_), [po] "+m"(po_)    \
      : [a] "r"(a_), [de] "m"(de_), [k] "i"(K), [oc] "i"(OC), [c] "i"(C)                        \
      : "cc", "memory")
#define TME_GEMM_ASM_LOOP_K_(K, OC, C, U)                                                      \
  __asm__ volatile(                                                                             \
      "1:\n\t"                                                                                  \
      TME_GEMM_ASM_BIAS_                                                                        \
      "add %[ke], %[a], #2 * %c[k]\n\t"                                                         \
      "2:\n\t"                                                                                  \
      ".rept %c[u]\n\t"                                                                         \
      TME_GEMM_ASM_STEP_("[%[a]], #8", "[%[a], #2 * %c[k] - 8]", "[%[pw], #%c[k]]",              \
                         "[%[pw]], #4")                                                         \
      ".endr\n\t"                                                                               \
      "cmp %[a], %[ke]\n\t"                                                                     \
      "bne 2b\n\t"                                                                              \
      "sub %[a], %[a], #2 * %c[k]\n\t"                                                          \
      "add %[pw], %[pw], #%c[k]\n\t"                                                            \
      "ldr %[xa], %[pm]\n\t"                                                                    \
      "ldrd %[lo], %[hi], [%[xa]], #8\n\t"                                                      \
      "str %[xa], %[pm]\n\t"                                                                    \
      TME_GEMM_ASM_EPILOGUE_                                                                    \
      : TME_GEMM_ASM_TEMPS_, [ke] "=&r"(ke_), [a] "+r"(a_), [pw] "+r"(pw_), [pb] "+r"(pb_),     \
        [pm] "+m"(pm_), [po] "+m"(po_)                                                          \
      : [de] "m"(de_), [k] "i"(K), [oc] "i"(OC), [c] "i"(C), [u] "i"(U)                         \
      : "cc", "memory")
/* One row (a fully connected layer) times channels w0 and w0 + K, the loop along k in the
 * assembly, U steps of 8 MACs at a time: s0, s1 += the products. */
#define TME_GEMM_ASM_ROW1_K4_MAX 2044
#define TME_GEMM_ASM_ROW1_(a0, w0, K, U)                                                        \
  do {                                                                                          \
    const uint8_t *pa_ = (a0);                                                                  \
    const int8_t *pw_ = (w0);                                                                   \
    uint32_t xa_, xb_, l0_, h0_, l1_, h1_, ke_;                                                 \
    __asm__("add %[ke], %[a], #2 * %c[k]\n\t"                                                   \
            "2:\n\t"                                                                            \
            ".rept %c[u]\n\t"                                                                   \
            "ldrd %[xa], %[xb], [%[a]], #8\n\t"                                                 \
            "ldr %[l1], [%[pw], #%c[k]]\n\t"                                                    \
            "ldr %[l0], [%[pw]], #4\n\t"                                                        \
            "sxtb16 %[h1], %[l1], ror #8\n\t"                                                   \
            "sxtb16 %[l1], %[l1]\n\t"                                                           \
            "sxtb16 %[h0], %[l0], ror #8\n\t"                                                   \
            "sxtb16 %[l0], %[l0]\n\t"                                                           \
            "smlad %[s1], %[xa], %[l1], %[s1]\n\t"                                              \
            "smlad %[s1], %[xb], %[h1], %[s1]\n\t"                                              \
            "smlad %[s0], %[xa], %[l0], %[s0]\n\t"                                              \
            "smlad %[s0], %[xb], %[h0], %[s0]\n\t"                                              \
            ".endr\n\t"                                                                         \
            "cmp %[a], %[ke]\n\t"                                                               \
            "bne 2b"                                                                            \
            : [s0] "+r"(s00), [s1] "+r"(s01), [xa] "=&r"(xa_), [xb] "=&r"(xb_),                 \
              [l0] "=&r"(l0_), [h0] "=&r"(h0_), [l1] "=&r"(l1_), [h1] "=&r"(h1_),               \
              [ke] "=&r"(ke_), [a] "+r"(pa_), [pw] "+r"(pw_)                                    \
            : [k] "i"(K), [u] "i"(U), "m"(*(const uint8_t(*)[2 * (K)])(a0)),                    \
              "m"(*(const int8_t(*)[2 * (K)])(w0))                                              \
            : "cc");                                                                            \
  } while (0)
#else
#define TME_GEMM_ASM_LOOP 0
#define TME_GEMM_ASM_K4_MAX 0
#define TME_GEMM_ASM_UNROLLED_K 0
#define TME_GEMM_ASM_LOOP_K 0
#define TME_GEMM_ASM_ROW1_K4_MAX 0
#define TME_GEMM_ASM_ROW1_(a0, w0, K, U) do { } while (0)
#define TME_GEMM_STEP_2X2_NEAR(pa, pw, K) do { } while (0)
#define TME_GEMM_STEP_2X2_FAR(pa, pb, pw, K) do { } while (0)
#endif

#endif /* TME_GEMM_DSP_ASM_H */
