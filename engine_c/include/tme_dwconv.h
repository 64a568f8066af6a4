/* DEPTHWISE_CONV_2D (depth multiplier 1), specialised per layer.
 *
 * acc = bias + sum over the taps inside the input of (x + in_offset) * w, then TFLite Micro's
 * per-channel requantization, output offset, activation clamp (and fused residual ADD).
 *
 * Two kernels, both called through one small function per layer with a `static const`
 * tme_dw_params, so that the compiler unrolls the taps of the layer's kernel size and stride:
 *
 * - tme_dw_s8: output pixels in raster order, all channels of a pixel at a time, after reading
 *   its window (the output may overwrite the windows of earlier pixels: raster_window_slack).
 *   Pixels whose window lies inside the input (the interior, [oy_lo, oy_hi) x [ox_lo, ox_hi))
 *   take every tap without a bound check; border pixels take the taps inside the input.
 *
 * - tme_dw_inplace_s8: the output overwrites its input (`data`), one channel at a time
 *   (TinyEngine's in-place depthwise), with a ring of input rows in scratch: the rows of the
 *   channel the current output row reads, as 16-bit (x + in_offset) padded with zeros
 *   (padding taps add nothing; the DSP path stores x padded with -in_offset and starts its
 *   sums at bias + in_offset * sum(w)), a row stored phase by phase of the stride (columns
 *   s * i + j at [j][i]) so that every tap reads consecutive values. An input row is read once per
 *   channel, into the ring; each output row goes straight over data, on bytes of its own
 *   channel whose input rows are all in the ring by then (ops/conv.py takes only layers where
 *   that holds, and computes the scratch bytes: inplace_geometry).
 *
 * This header holds what every path shares and selects the path: tme_dwconv_ref.h (portable,
 * the reference), tme_dwconv_dsp.h (Arm DSP extension), tme_dwconv_avx2.h (x86 AVX2).
 */
#ifndef TME_DWCONV_H
#define TME_DWCONV_H

#include "tme_add.h"
#include "tme_common.h"

typedef struct {
  int32_t in_h, in_w, c, out_h, out_w;
  int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
  int32_t oy_lo, oy_hi, ox_lo, ox_hi;  /* interior output pixels: the window is inside */
  int32_t in_offset, out_offset, act_min, act_max;
  int32_t ring_w;  /* in place: values per stride phase of a padded input row */
  int32_t right_shift;  /* 1: tme_requant_right, the shifts stored as -shift - 2 */
} tme_dw_params;

#define TME_DW_BLOCK 64
/* The in-place kernel computes output columns in whole groups of TME_DW_LANES (the ring rows
 * are long enough; ops/conv.py sizes them for 16), so that vectorising compilers need no
 * remainder loops; scalar Cortex-M code computes exactly the columns there are. */
#ifndef TME_DW_LANES
#if defined(__ARM_ARCH) && defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define TME_DW_LANES 1
#else
#define TME_DW_LANES 16
#endif
#endif

/* TAP(ky, kx) for every tap of a pixel's window: all of them at constant offsets for an
 * interior pixel (`unrolled`), the taps [ky0, ky1) x [kx0, kx1) inside the input otherwise. */
#define TME_DW_EACH_TAP(TAP)                                                                    \
  do {                                                                                          \
    if (unrolled) {                                                                             \
      TME_PRAGMA_(GCC unroll 7)                                                                 \
      for (int32_t ky = 0; ky < p->k_h; ++ky) {                                                 \
        TME_PRAGMA_(GCC unroll 7)                                                               \
        for (int32_t kx = 0; kx < p->k_w; ++kx) TAP(ky, kx);                                    \
      }                                                                                         \
    } else {                                                                                    \
      for (int32_t ky = ky0; ky < ky1; ++ky)                                                    \
        for (int32_t kx = kx0; kx < kx1; ++kx) TAP(ky, kx);                                     \
    }                                                                                           \
  } while (0)

/* First tap at or after `lo` and the end of the taps before `hi` of a window starting at `i0`. */
static inline int32_t tme_dw_first(int32_t i0, int32_t dil) {
  return i0 < 0 ? (-i0 + dil - 1) / dil : 0;
}
static inline int32_t tme_dw_end(int32_t i0, int32_t dil, int32_t taps, int32_t size) {
  const int32_t n = size - i0 <= 0 ? 0 : (size - i0 + dil - 1) / dil;
  return n < taps ? n : taps;
}

/* PIXEL(iy0, ix0, ky0, ky1, kx0, kx1, inside, o) for every output pixel of rows [r0, r1) in
 * raster order: the window's first input row and column, the taps inside the input, whether
 * they are all of them (an interior pixel, told apart only where `interior`, a constant: the
 * other path is left out) and its first output byte. */
#define TME_DW_EACH_PIXEL(r0, r1, interior, PIXEL)                                               \
  for (int32_t oy = (r0); oy < (r1); ++oy) {                                                   \
    const int32_t iy0 = oy * p->stride_h - p->pad_top;                                          \
    const int row_inside = oy >= p->oy_lo && oy < p->oy_hi;                                     \
    const int32_t ky0 = tme_dw_first(iy0, p->dil_h);                                            \
    const int32_t ky1 = tme_dw_end(iy0, p->dil_h, p->k_h, p->in_h);                             \
    for (int32_t ox = 0; ox < p->out_w; ++ox) {                                                 \
      const int32_t ix0 = ox * p->stride_w - p->pad_left;                                       \
      const size_t o = ((size_t)oy * (size_t)p->out_w + (size_t)ox) * (size_t)p->c;            \
      if ((interior) && row_inside && ox >= p->ox_lo && ox < p->ox_hi)                          \
        PIXEL(iy0, ix0, 0, p->k_h, 0, p->k_w, 1, o);                                            \
      else                                                                                      \
        PIXEL(iy0, ix0, ky0, ky1, tme_dw_first(ix0, p->dil_w),                                  \
              tme_dw_end(ix0, p->dil_w, p->k_w, p->in_w), 0, o);                                \
    }                                                                                           \
  }

/* One output pixel, all its channels, from the taps [ky0, ky1) x [kx0, kx1) of its window at
 * (iy0, ix0) (`unrolled`: an interior pixel, every tap): each path's own (below). */
TME_INLINE void tme_dw_pixel(const tme_dw_params *p, const int8_t *in, int32_t iy0, int32_t ix0,
                             int32_t ky0, int32_t ky1, int32_t kx0, int32_t kx1, int unrolled,
                             const int8_t *w, const int32_t *bias, const int32_t *mult,
                             const int8_t *shift, const tme_residual_params *residual,
                             const int8_t *skip, size_t o, int8_t *out);

/* Output rows [r0, r1) pixel by pixel; `unroll` (a constant): interior pixels take every tap
 * unrolled, else the row by row path too (code size, where few pixels take this path). */
TME_INLINE void tme_dw_rows(const tme_dw_params *p, const int8_t *in, const int8_t *w,
                            const int32_t *bias, const int32_t *mult, const int8_t *shift,
                            const tme_residual_params *residual, const int8_t *skip, int8_t *out,
                            int32_t r0, int32_t r1, int unroll) {
#define TME_DW_RASTER_PIXEL(iy0, ix0, ky0, ky1, kx0, kx1, inside, o)                              \
  tme_dw_pixel(p, in, iy0, ix0, ky0, ky1, kx0, kx1, inside, w, bias, mult, shift, residual,    \
               skip, o, out)
  TME_DW_EACH_PIXEL(r0, r1, unroll, TME_DW_RASTER_PIXEL)
#undef TME_DW_RASTER_PIXEL
}

/* Copy input row iy of channel c into a ring slot: x + e phase by phase (e: in_offset on the
 * portable path, 0 on the DSP path). The padding columns of every slot are set once per call of
 * the kernel to `pad` (e - in_offset, so that padding taps add nothing) and never written; a
 * row outside the input is all `pad`. */
TME_INLINE void tme_dw_ring_row(const tme_dw_params *p, const int8_t *data, int32_t c,
                                int32_t iy, int32_t e, int32_t pad, tme_i16 *slot) {
  const int32_t s = p->stride_w, len = s * p->ring_w;
  if (iy < 0 || iy >= p->in_h) {  /* two values a store */
    const uint32_t two = (uint32_t)(uint16_t)pad * 0x10001u;
    for (int32_t i = 0; i + 2 <= len; i += 2) tme_store32(slot + i, two);
    if (len % 2) slot[len - 1] = (int16_t)pad;
    return;
  }
  const int8_t *src = data + (size_t)iy * (size_t)p->in_w * (size_t)p->c + (size_t)c;
  for (int32_t ph = 0; ph < s; ++ph) {  /* padded columns col = ix + pad_left, col % s == ph */
    const int32_t ix0 = ((ph - p->pad_left) % s + s) % s;
    tme_i16 *dst = slot + ph * p->ring_w + (ix0 + p->pad_left) / s;
    int32_t ix = ix0;
#if defined(__ARM_FEATURE_DSP) && !defined(TME_EMULATE_DSP) && defined(__OPTIMIZE__)
    const int32_t n4 = (p->in_w - ix0 + s - 1) / s / 4;  /* groups of 4 values */
    if (e == 0 && s * p->c <= 255 && n4 > 0 && __builtin_constant_p(s * p->c)) {
      /* LDRSB and STRH that step their addresses: 2.5 instructions a value, not GCC's 3 */
      const int8_t *x = src + (size_t)ix0 * (size_t)p->c;
      tme_i16 *const end = dst + 4 * n4;
      int32_t v0, v1, v2, v3;
      __asm__ volatile("1:\n\t"
              "ldrsb %[v0], [%[x]], %[st]\n\t"
              "ldrsb %[v1], [%[x]], %[st]\n\t"
              "ldrsb %[v2], [%[x]], %[st]\n\t"
              "ldrsb %[v3], [%[x]], %[st]\n\t"
              "strh %[v0], [%[d]], #2\n\t"
              "strh %[v1], [%[d]], #2\n\t"
              "strh %[v2], [%[d]], #2\n\t"
              "strh %[v3], [%[d]], #2\n\t"
              "cmp %[d], %[end]\n\t"
              "bne 1b"
              : [x] "+r"(x), [d] "+r"(dst), [v0] "=&r"(v0), [v1] "=&r"(v1), [v2] "=&r"(v2),
                [v3] "=&r"(v3)
              : [end] "r"(end), [st] "i"(s * p->c)
              : "memory", "cc");
      ix += 4 * n4 * s;
    }
#endif
    for (; ix < p->in_w; ix += s) *dst++ = (int16_t)(src[(size_t)ix * (size_t)p->c] + e);
  }
}

#if TME_DSP
#include "tme_dwconv_dsp.h"
#elif TME_AVX2
#include "tme_dwconv_avx2.h"
#else
#include "tme_dwconv_ref.h"
#endif

#endif /* TME_DWCONV_H */
