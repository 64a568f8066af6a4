/* CONV_2D and FULLY_CONNECTED as matrix products, specialised per layer.
 *
 * out[r][oc] = epilogue(bias'[oc] + sum_k a[r][k] * w[oc][k])
 *
 * - Row r of `a` holds what output pixel r (or batch r of a fully connected layer) reads: the
 *   pixel itself for a 1x1 stride-1 convolution, its window in the weights' (ky, kx, c) order
 *   otherwise (im2col). Every value is stored as x + 128 (x ^ 0x80, an unsigned byte); a padding
 *   tap holds the input zero point + 128. Rows are built a block at a time in scratch memory.
 * - The converter folds the input offset into the bias: bias'[oc] = bias[oc] - (zero point +
 *   128) * sum_k w[oc][k] (wrapping int32). Then sum_k (x - zp) * w + bias equals
 *   sum_k (x + 128) * w + bias' exactly, padding taps cancel, and the inner loop is a plain
 *   product of unsigned by signed bytes (what compilers vectorise best, and what one Arm SMLAD
 *   does twice per instruction). TFLite Micro's own sum is the same integer: its order of
 *   additions does not matter (the converter rejects weights whose sums could overflow int32).
 * - Weights are [out_c][k4], each row zero-padded to k4, a multiple of 4.
 * - The epilogue is TFLite Micro's: per-channel requantization, output offset, activation
 *   clamp, and the residual ADD when one is fused.
 *
 * Write order: a block of rows (4, or 2 on the DSP path) is copied into scratch before any of
 * its outputs is written, and output pixels are written in raster order: an output may
 * overwrite the windows of the pixels before it (see ops/base.py, raster_window_slack). A fused
 * residual's skip element is read just before the output element at the same index. (The DSP
 * assembly loop takes the last of an odd count of rows with the row before it again, still in
 * scratch: that row's outputs are written twice, the same bytes; never with a residual.)
 *
 * Called through one small function per layer with a `static const` tme_gemm_params: the
 * compiler folds every field into the inlined copy (trip counts, strides, offsets, clamp *
 * This header holds what every path shares and selects the path: tme_gemm_ref.h (portable, the
 * reference), tme_gemm_dsp.h (Arm DSP extension), tme_gemm_avx2.h (x86 AVX2).
 */
#ifndef TME_GEMM_H
#define TME_GEMM_H

#include "tme_add.h"
#include "tme_common.h"

typedef struct {
  int32_t rows;                 /* output pixels (out_h * out_w), or batches */
  int32_t k;                    /* values per row: k_h * k_w * in_c */
  int32_t k4;                   /* k rounded up to a multiple of 4: row stride of weights, scratch */
  int32_t out_c;
  int32_t im2col;               /* 0: row r is input bytes [r * k, (r + 1) * k) */
  int32_t in_h, in_w, in_c, out_w;
  int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_top, pad_left;
  int32_t pad_value;            /* input zero point + 128: a padding tap */
  int32_t out_offset, act_min, act_max;
  int32_t right_shift;          /* 1: tme_requant_right, the shifts stored as -shift - 2 */
} tme_gemm_params;

/* Rows of a block: 4 on the portable path (each weight row meets 4 input rows per pass), 2 on
 * the DSP path (where rows hold 16-bit values). Either way the scratch holds 4 * k4 bytes
 * (2 * k4 when there is a single row). */
#define TME_GEMM_ROWS 4
#define TME_GEMM_OC_BLOCK 64

/* Row r as unsigned bytes x + 128, zero-padded to k4. */
TME_INLINE void tme_gemm_row_u8(const tme_gemm_params *p, const int8_t *in, int32_t r,
                                uint8_t *dst) {
  if (!p->im2col) {
    const int8_t *src = in + (size_t)r * (size_t)p->k;
    for (int32_t k = 0; k < p->k; ++k) dst[k] = (uint8_t)((uint8_t)src[k] ^ 0x80u);
  } else {
    const int32_t oy = r / p->out_w, ox = r - oy * p->out_w;
    const int32_t iy0 = oy * p->stride_h - p->pad_top, ix0 = ox * p->stride_w - p->pad_left;
    const int32_t run = p->k_w * p->in_c;  /* one row of the window */
    const int row_inside = ix0 >= 0 && ix0 + (p->k_w - 1) * p->dil_w < p->in_w;
    uint8_t *d = dst;
    for (int32_t ky = 0; ky < p->k_h; ++ky, d += run) {
      const int32_t iy = iy0 + ky * p->dil_h;
      if (iy < 0 || iy >= p->in_h) {
        for (int32_t j = 0; j < run; ++j) d[j] = (uint8_t)p->pad_value;
      } else if (p->dil_w == 1 && row_inside) {  /* one run of bytes */
        const int8_t *src = in + ((size_t)iy * (size_t)p->in_w + (size_t)ix0) * (size_t)p->in_c;
        int32_t j = 0;
#if TME_DSP  /* a word at a time (vector hosts vectorise the byte loop) */
        for (; j + 4 <= run; j += 4) tme_store32(d + j, tme_load32(src + j) ^ 0x80808080u);
#endif
        for (; j < run; ++j) d[j] = (uint8_t)((uint8_t)src[j] ^ 0x80u);
      } else {
        for (int32_t kx = 0; kx < p->k_w; ++kx) {
          const int32_t ix = ix0 + kx * p->dil_w;
          uint8_t *dc = d + kx * p->in_c;
          if (ix < 0 || ix >= p->in_w) {
            for (int32_t c = 0; c < p->in_c; ++c) dc[c] = (uint8_t)p->pad_value;
          } else {
            const int8_t *src = in + ((size_t)iy * (size_t)p->in_w + (size_t)ix) * (size_t)p->in_c;
            for (int32_t c = 0; c < p->in_c; ++c) dc[c] = (uint8_t)((uint8_t)src[c] ^ 0x80u);
          }
        }
      }
    }
  }
  for (int32_t k = p->k; k < p->k4; ++k) dst[k] = 0;
}

#if TME_DSP
#include "tme_gemm_dsp.h"
#elif TME_AVX2
#include "tme_gemm_avx2.h"
#else
#include "tme_gemm_ref.h"
TME_INLINE void tme_gemm_s8(const tme_gemm_params *p, const int8_t *in, const int8_t *w,
                            const int32_t *bias, const int32_t *mult, const int8_t *shift,
                            const tme_residual_params *residual, const int8_t *skip,
                            uint8_t *scratch, int8_t *out) {
  tme_gemm_ref_s8(p, in, w, bias, mult, shift, residual, skip, scratch, out);
}
#endif

#endif /* TME_GEMM_H */
