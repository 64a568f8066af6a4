/* DEPTHWISE_CONV_2D in place for the Arm DSP extension (tme_dwconv_dsp.h): the ring holds x
 * (its padding -in_offset), each channel's weights are split into 16-bit pairs once, and 4
 * output pixels of a row take two taps per SMLAD (in assembly on Arm). */
#ifndef TME_DWCONV_DSP_INPLACE_H
#define TME_DWCONV_DSP_INPLACE_H

#include "tme_dsp.h"
#include "tme_dwconv.h"

#define TME_DW_TAPS_MAX 16  /* taps of a stride phase */
#define TME_DW_PAIRS 28  /* 64-bit weight words of a channel (tme_dw_pairs): 7x7 at stride 1 */

/* A channel's weights and requantization. The weights twice over (kernel rows 0 .. k_h - 1,
 * then again), so that the ring slots 0 .. k_h - 1 in order find the weights of their kernel
 * rows at consecutive places whatever the rotation of the ring. In memory, which the assembly
 * of tme_dw_ring_taps may read, so GCC reloads b, m, h where they are used instead of holding
 * them in registers through the loop (its spills cost more). */
typedef struct {
  uint64_t w[2 * TME_DW_PAIRS];
  int32_t b, m, h;  /* bias + in_offset * sum(w), multiplier, shift */
} tme_dw_chan;

/* 64-bit weight words of a stride phase of n taps, of a kernel row. */
static inline int32_t tme_dw_words(int32_t n) { return n % 2 ? (n + 1) / 2 : (n + 3) / 4; }
static inline int32_t tme_dw_row_words(const tme_dw_params *p) {
  int32_t r = 0;
  for (int32_t ph = 0; ph < p->stride_w; ++ph)
    r += tme_dw_words((p->k_w - ph + p->stride_w - 1) / p->stride_w);
  return r;
}

/* Tap j of stride phase ph of kernel row ky of channel c as a 16-bit lane, 0 past the n taps. */
static inline uint32_t tme_dw_tap(const tme_dw_params *p, const int8_t *w, int32_t c,
                                  int32_t ky, int32_t ph, int32_t n, int32_t j) {
  const int32_t kx = ph + j * p->stride_w;
  return j < n ? (uint16_t)w[(size_t)(ky * p->k_w + kx) * (size_t)p->c + (size_t)c] : 0u;
}

/* The weights of channel c in the order tme_dw_ring_taps reads them, per kernel row, per stride
 * phase, for the phase's taps w_0 .. w_(n-1): with n odd, the 16-bit pairs P_i = (w_2i, w_2i+1)
 * and Q_i = (w_2i+1, w_2i+2) (w_n = 0), a 64-bit word (P_i, Q_i) per i; with n even, the P_i,
 * two per 64-bit word. Returns in_offset * sum(w): the ring holds x, not x + in_offset (its
 * padding holds -in_offset), so the sums start at bias + in_offset * sum(w). */
TME_INLINE int32_t tme_dw_pairs(const tme_dw_params *p, const int8_t *w, int32_t c,
                                uint64_t *pairs) {
  uint64_t *const first = pairs;
  uint32_t sum = 0;
  for (int32_t ky = 0; ky < p->k_h; ++ky)
    for (int32_t ph = 0; ph < p->stride_w; ++ph) {
      const int32_t n = (p->k_w - ph + p->stride_w - 1) / p->stride_w;
#define TME_DW_TAP_(j) tme_dw_tap(p, w, c, ky, ph, n, j)
      for (int32_t j = 0; j < n; ++j) sum += (uint32_t)(int16_t)TME_DW_TAP_(j);
      for (int32_t i = 0; 2 * i < n; i += 2 - n % 2)  /* n odd: (P_i, Q_i); even: P_i, P_i+1 */
        *pairs++ = (TME_DW_TAP_(2 * i) | TME_DW_TAP_(2 * i + 1) << 16) |
                   (uint64_t)(n % 2 ? TME_DW_TAP_(2 * i + 1) | TME_DW_TAP_(2 * i + 2) << 16
                                    : TME_DW_TAP_(2 * i + 2) | TME_DW_TAP_(2 * i + 3) << 16)
                       << 32;
#undef TME_DW_TAP_
    }
  for (int32_t i = 0; i < p->k_h * tme_dw_row_words(p); ++i) pairs[i] = first[i];
  return (int32_t)(sum * (uint32_t)p->in_offset);
}

/* The n taps of one stride phase of a kernel row for 4 output pixels: x[j .. j + n) against
 * w_0 .. w_(n-1) for pixel j (x: xo values on from `x`; the weights: wo words on from `wq`),
 * two taps per SMLAD. Pixels 0 and 2 take the words W_i = (x[2i], x[2i + 1]) against P_0,
 * P_1, ... (W_0, W_1, ... and W_1, W_2, ...). With n odd, pixels 1 and 3 take the same words:
 * x[1] * w_0 (SMLATB) then W_1, W_2, ... against Q_0, Q_1, ..., and the last tap of pixels 0
 * and 2 is an SMLABB: 2n + 2 multiplies, (n + 3) / 2 loads of x and (n + 1) / 2 LDRDs of
 * weights for the 4 pixels. With n even, pixels 1 and 3 take the words
 * U_i = (x[2i + 1], x[2i + 2]) against the P_i: 2n multiplies, n + 2 loads, n / 4 LDRDs. */
#if defined(__ARM_FEATURE_DSP) && !defined(TME_EMULATE_DSP) && defined(__OPTIMIZE__)
/* Written in assembly on Arm: GCC's register allocation of the C below varies from layer to
 * layer by up to 20% of the loop (spills, per-tap address arithmetic). 10 registers: the 4
 * sums, x, the weights, 2 words of x (e, o) and 2 of weights (P, Q). Offsets: xo, wo bytes. */
#define TME_DW_ASM_ 1
#define TME_DW_ODD_HEAD_(S1, S3)                                                           \
  "ldr %[e], [%[x], #%c[xo]]\n\t"                                                          \
  "ldr %[o], [%[x], #%c[xo]+4]\n\t"                                                        \
  "ldrd %[P], %[Q], [%[w], #%c[wo]]\n\t"                                                   \
  "smlatb %[a1], %[e], %[P], %[" S1 "]\n\t"                                                \
  "smlatb %[a3], %[o], %[P], %[" S3 "]\n\t"
/* taps 2i, 2i + 1 of pixels 0, 2 and 2i + 1, 2i + 2 of pixels 1, 3 (E: W_i, O: W_(i+1));
 * S0 .. S3: what the sums add to, themselves or, in a group's first taps, the bias b */
#define TME_DW_ODD_STEP_(E, O, i, S0, S2)                                                  \
  "smlad %[a0], %[" E "], %[P], %[" S0 "]\n\t"                                             \
  "smlad %[a2], %[" O "], %[P], %[" S2 "]\n\t"                                             \
  "ldr %[" E "], [%[x], #%c[xo]+4*" #i "+8]\n\t"                                          \
  "smlad %[a1], %[" O "], %[Q], %[a1]\n\t"                                                 \
  "smlad %[a3], %[" E "], %[Q], %[a3]\n\t"                                                 \
  "ldrd %[P], %[Q], [%[w], #%c[wo]+8*" #i "+8]\n\t"
#define TME_DW_ODD_TAIL_(E, O, S0, S2)                                                     \
  "smlabb %[a0], %[" E "], %[P], %[" S0 "]\n\t"                                            \
  "smlabb %[a2], %[" O "], %[P], %[" S2 "]"
/* P_i of pixels 0..3 (E: W_i, O: U_i) */
#define TME_DW_EVEN_STEP_(PI, i, S0, S1, S2, S3)                                           \
  "smlad %[a0], %[e], %[" PI "], %[" S0 "]\n\t"                                            \
  "smlad %[a1], %[o], %[" PI "], %[" S1 "]\n\t"                                            \
  "ldr %[e], [%[x], #%c[xo]+4*" #i "+4]\n\t"                                              \
  "ldr %[o], [%[x], #%c[xo]+4*" #i "+6]\n\t"                                              \
  "smlad %[a2], %[e], %[" PI "], %[" S2 "]\n\t"                                            \
  "smlad %[a3], %[o], %[" PI "], %[" S3 "]\n\t"
#define TME_DW_EVEN_HEAD_                                                                  \
  "ldr %[e], [%[x], #%c[xo]]\n\t"                                                          \
  "ldr %[o], [%[x], #%c[xo]+2]\n\t"
#define TME_DW_LDRD_(i) "ldrd %[P], %[Q], [%[w], #%c[wo]+8*" #i "]\n\t"
/* the code for n taps, S0 .. S3 what the sums add to first */
#define TME_DW_ODD1_(S0, S1, S2, S3) TME_DW_ODD_HEAD_(S1, S3) TME_DW_ODD_TAIL_("e", "o", S0, S2)
#define TME_DW_ODD3_(S0, S1, S2, S3)                                                       \
  TME_DW_ODD_HEAD_(S1, S3) TME_DW_ODD_STEP_("e", "o", 0, S0, S2)                           \
  TME_DW_ODD_TAIL_("o", "e", "a0", "a2")
#define TME_DW_ODD5_(S0, S1, S2, S3)                                                       \
  TME_DW_ODD_HEAD_(S1, S3) TME_DW_ODD_STEP_("e", "o", 0, S0, S2)                           \
  TME_DW_ODD_STEP_("o", "e", 1, "a0", "a2") TME_DW_ODD_TAIL_("e", "o", "a0", "a2")
#define TME_DW_ODD7_(S0, S1, S2, S3)                                                       \
  TME_DW_ODD_HEAD_(S1, S3) TME_DW_ODD_STEP_("e", "o", 0, S0, S2)                           \
  TME_DW_ODD_STEP_("o", "e", 1, "a0", "a2") TME_DW_ODD_STEP_("e", "o", 2, "a0", "a2")        \
  TME_DW_ODD_TAIL_("o", "e", "a0", "a2")
#define TME_DW_ODD9_(S0, S1, S2, S3)                                                       \
  TME_DW_ODD_HEAD_(S1, S3) TME_DW_ODD_STEP_("e", "o", 0, S0, S2)                           \
  TME_DW_ODD_STEP_("o", "e", 1, "a0", "a2") TME_DW_ODD_STEP_("e", "o", 2, "a0", "a2")        \
  TME_DW_ODD_STEP_("o", "e", 3, "a0", "a2") TME_DW_ODD_TAIL_("e", "o", "a0", "a2")
#define TME_DW_EVEN2_(S0, S1, S2, S3)                                                      \
  TME_DW_EVEN_HEAD_ TME_DW_LDRD_(0) TME_DW_EVEN_STEP_("P", 0, S0, S1, S2, S3)
#define TME_DW_EVEN4_(S0, S1, S2, S3)                                                      \
  TME_DW_EVEN2_(S0, S1, S2, S3) TME_DW_EVEN_STEP_("Q", 1, "a0", "a1", "a2", "a3")
#define TME_DW_EVEN6_(S0, S1, S2, S3)                                                      \
  TME_DW_EVEN4_(S0, S1, S2, S3) TME_DW_LDRD_(1) TME_DW_EVEN_STEP_("P", 2, "a0", "a1", "a2", "a3")
#define TME_DW_EVEN8_(S0, S1, S2, S3)                                                      \
  TME_DW_EVEN6_(S0, S1, S2, S3) TME_DW_EVEN_STEP_("Q", 3, "a0", "a1", "a2", "a3")
#define TME_DW_SWITCH_(RUN, S0, S1, S2, S3)                                                \
  switch (n) {                                                                             \
    case 1: RUN(TME_DW_ODD1_(S0, S1, S2, S3)); break;                                      \
    case 3: RUN(TME_DW_ODD3_(S0, S1, S2, S3)); break;                                      \
    case 5: RUN(TME_DW_ODD5_(S0, S1, S2, S3)); break;                                      \
    case 7: RUN(TME_DW_ODD7_(S0, S1, S2, S3)); break;                                      \
    case 9: RUN(TME_DW_ODD9_(S0, S1, S2, S3)); break;                                      \
    case 2: RUN(TME_DW_EVEN2_(S0, S1, S2, S3)); break;                                     \
    case 4: RUN(TME_DW_EVEN4_(S0, S1, S2, S3)); break;                                     \
    case 6: RUN(TME_DW_EVEN6_(S0, S1, S2, S3)); break;                                     \
    default: RUN(TME_DW_EVEN8_(S0, S1, S2, S3)); break;                                    \
  }
#endif

TME_INLINE void tme_dw_ring_taps(const tme_i16 *x, int32_t xo, int32_t n, const uint64_t *wq,
                                 int32_t wo, int32_t *a, int first, int32_t b, int near) {
#ifdef TME_DW_ASM_
  /* near: the offsets fit LDR's 12 bits; constants: the loops unrolled (not at -Os, -Og) */
  if (n <= 9 && near && __builtin_constant_p(xo) && __builtin_constant_p(wo)) {
    uint32_t e, o, P, Q;
#define TME_DW_ASM_RUN_(code)                                                              \
  __asm__(code                                                                             \
          : [a0] "+r"(a[0]), [a1] "+r"(a[1]), [a2] "+r"(a[2]), [a3] "+r"(a[3]),             \
            [e] "=&r"(e), [o] "=&r"(o), [P] "=&r"(P), [Q] "=&r"(Q)                          \
          : [x] "r"(x), [w] "r"(wq), [xo] "i"(2 * xo), [wo] "i"(8 * wo)                     \
          : "memory")
#define TME_DW_ASM_FIRST_(code)                                                            \
  __asm__(code                                                                             \
          : [a0] "=&r"(a[0]), [a1] "=&r"(a[1]), [a2] "=&r"(a[2]), [a3] "=&r"(a[3]),         \
            [e] "=&r"(e), [o] "=&r"(o), [P] "=&r"(P), [Q] "=&r"(Q)                          \
          : [x] "r"(x), [w] "r"(wq), [xo] "i"(2 * xo), [wo] "i"(8 * wo), [b] "r"(b)         \
          : "memory")
    if (first) {
      TME_DW_SWITCH_(TME_DW_ASM_FIRST_, "b", "b", "b", "b")
    } else {
      TME_DW_SWITCH_(TME_DW_ASM_RUN_, "a0", "a1", "a2", "a3")
    }
#undef TME_DW_ASM_RUN_
#undef TME_DW_ASM_FIRST_
    return;
  }
#endif
  (void)near;
  if (first)
    for (int32_t j = 0; j < 4; ++j) a[j] = b;
  x += xo;
  wq += wo;
  if (n % 2) {
    uint32_t W[TME_DW_TAPS_MAX / 2 + 2], P = 0, Q = 0;
    for (int32_t i = 0; i < (n + 3) / 2; ++i) W[i] = tme_load32(x + 2 * i);
    for (int32_t j = 0; j < n; j += 2) {
      P = (uint32_t)wq[j / 2];
      Q = (uint32_t)(wq[j / 2] >> 32);
      if (j == 0) {  /* pixels 1 and 3, tap 0 */
        a[1] = tme_smlatb(W[0], P, a[1]);
        a[3] = tme_smlatb(W[1], P, a[3]);
      }
      if (j + 1 == n) {  /* pixels 0 and 2, the last tap */
        a[0] = tme_smlabb(W[j / 2], P, a[0]);
        a[2] = tme_smlabb(W[j / 2 + 1], P, a[2]);
      } else {
        a[0] = tme_smlad(W[j / 2], P, a[0]);
        a[2] = tme_smlad(W[j / 2 + 1], P, a[2]);
        a[1] = tme_smlad(W[j / 2 + 1], Q, a[1]);
        a[3] = tme_smlad(W[j / 2 + 2], Q, a[3]);
      }
    }
  } else {
    for (int32_t i = 0; 2 * i < n; ++i) {
      const uint32_t P = (uint32_t)(wq[i / 2] >> (i % 2 * 32));
      a[0] = tme_smlad(tme_load32(x + 2 * i), P, a[0]);
      a[1] = tme_smlad(tme_load32(x + 2 * i + 1), P, a[1]);
      a[2] = tme_smlad(tme_load32(x + 2 * i + 2), P, a[2]);
      a[3] = tme_smlad(tme_load32(x + 2 * i + 3), P, a[3]);
    }
  }
}

/* DSP path: one output row of channel c (its bytes c apart from orow on), TME_DW_RING_N output
 * pixels at a time (tme_dw_ring_taps). A group past the row's end computes columns the ring
 * holds (its rows are sized for groups of 16) and stores only the pixels there are. The sums
 * start at `b`: the bias plus in_offset * sum(w). */
#define TME_DW_RING_N 4
TME_INLINE void tme_dw_ring_out(const tme_dw_params *p, const tme_i16 *rows, int32_t rot,
                                const tme_dw_chan *ch, int8_t *orow) {
  const int32_t slot_len = p->stride_w * p->ring_w, R = tme_dw_row_words(p);
  /* rot: (k_h - the slot of kernel row 0) mod k_h; slot q holds kernel row (q + rot) mod k_h,
   * whose weights are R words apart from wr on */
  const uint64_t *wr = ch->w + (size_t)rot * (size_t)R;
  for (int32_t ox = 0; ox < p->out_w; ox += TME_DW_RING_N) {
    int32_t a[TME_DW_RING_N];  /* from the bias on: tme_dw_ring_taps' first taps */
    TME_PRAGMA_(GCC unroll 16)
    for (int32_t q = 0; q < p->k_h; ++q) {
      int32_t wo = q * R;
      TME_PRAGMA_(GCC unroll 4)
      for (int32_t ph = 0; ph < p->stride_w; ++ph) {
        const int32_t n = (p->k_w - ph + p->stride_w - 1) / p->stride_w;
        tme_dw_ring_taps(rows + ox, q * slot_len + ph * p->ring_w, n, wr, wo, a,
                         q == 0 && ph == 0, ch->b, 2 * p->k_h * slot_len <= 4096 - 64);
        wo += tme_dw_words(n);
      }
    }
    TME_PRAGMA_(GCC unroll 4)
    for (int32_t j = 0; j < TME_DW_RING_N; ++j)
      if (p->out_w % TME_DW_RING_N == 0 || ox + j < p->out_w)
        orow[(size_t)(ox + j) * (size_t)p->c] = tme_requant_s8(
            a[j], ch->m, ch->h, p->out_offset, p->act_min, p->act_max, p->right_shift);
  }
}

TME_INLINE void tme_dw_inplace_s8(const tme_dw_params *p, int8_t *data, const int8_t *w,
                                  const int32_t *bias, const int32_t *mult, const int8_t *shift,
                                  uint8_t *scratch) {
  const int32_t slot_len = p->stride_w * p->ring_w;
  tme_i16 *const rows = (tme_i16 *)(void *)scratch;                 /* k_h slots */
  const int32_t e = 0;
  tme_dw_chan ch;
  const int32_t pad = e - p->in_offset;
  for (int32_t i = 0; i < p->k_h * slot_len; ++i) rows[i] = (int16_t)pad;
  for (int32_t c = 0; c < p->c; ++c) {
    ch.b = tme_add_wrap(bias[c], tme_dw_pairs(p, w, c, ch.w));
    ch.m = mult[c];
    ch.h = shift[c];
    /* input row iy goes to slot (iy + pad_top) % k_h: counted, not divided */
    int32_t iy = -p->pad_top, slot = 0;  /* the next input row to copy, its slot */
    int32_t rot = 0;  /* (k_h - the slot of the first input row of output row oy) mod k_h */
    for (int32_t oy = 0; oy < p->out_h; ++oy) {
      const int32_t iy0 = oy * p->stride_h - p->pad_top;
      const int32_t need = iy0 + (p->k_h - 1) * p->dil_h;
      for (; iy <= need; ++iy) {
        if (iy >= iy0)
          tme_dw_ring_row(p, data, c, iy, e, pad, rows + (size_t)slot * (size_t)slot_len);
        slot = slot + 1 == p->k_h ? 0 : slot + 1;
      }
      int8_t *orow = data + (size_t)oy * (size_t)p->out_w * (size_t)p->c + (size_t)c;
      tme_dw_ring_out(p, rows, rot, &ch, orow);
      for (int32_t i = 0; i < p->stride_h; ++i) rot = rot == 0 ? p->k_h - 1 : rot - 1;
    }
  }
}

#endif /* TME_DWCONV_DSP_INPLACE_H */
