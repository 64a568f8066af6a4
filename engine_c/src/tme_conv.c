/* DEPTHWISE_CONV_2D with a depth multiplier above 1 (the specialised kernels of tme_gemm.h and
 * tme_dwconv.h take every other convolution), with TFLite Micro's reference integer semantics:
 * acc = bias + sum((x + in_offset) * w) over the in-bounds taps (padding reads the zero
 * point), then per-channel requantization, output offset and the activation clamp. */
#include "tme_conv.h"

/* The epilogue: requantize, clamp, and apply the fused residual add if there is one. */
static inline int8_t epilogue(const tme_conv_params *p, int32_t acc, int32_t mult, int32_t shift,
                              const tme_residual_params *residual, const int8_t *skip,
                              size_t index) {
  const int8_t v = tme_clamp_s8(tme_add_wrap(tme_requant(acc, mult, shift), p->out_offset), p->act_min,
                                 p->act_max);
  if (!residual) return v;
  return residual->conv_is_first ? tme_add_element(&residual->add, v, skip[index])
                                 : tme_add_element(&residual->add, skip[index], v);
}

void tme_depthwise_conv2d_s8(const tme_conv_params *p, const int8_t *in, const int8_t *filter,
                             const int32_t *bias, const int32_t *mult, const int8_t *shift,
                             const tme_residual_params *residual, const int8_t *skip,
                             int8_t *out) {
  for (int32_t oy = 0; oy < p->out_h; ++oy) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    for (int32_t ox = 0; ox < p->out_w; ++ox) {
      const int32_t ix0 = ox * p->stride_w - p->pad_left;
      for (int32_t ic = 0; ic < p->in_c; ++ic) {
        for (int32_t m = 0; m < p->depth_multiplier; ++m) {
          const int32_t oc = ic * p->depth_multiplier + m;
          int32_t acc = 0;
          for (int32_t ky = 0; ky < p->k_h; ++ky) {
            const int32_t iy = iy0 + ky * p->dil_h;
            if (iy < 0 || iy >= p->in_h) continue;
            for (int32_t kx = 0; kx < p->k_w; ++kx) {
              const int32_t ix = ix0 + kx * p->dil_w;
              if (ix < 0 || ix >= p->in_w) continue;
              const int32_t x = in[((size_t)iy * p->in_w + ix) * p->in_c + ic];
              const int32_t w = filter[((size_t)ky * p->k_w + kx) * p->out_c + oc];
              acc += (x + p->in_offset) * w;
            }
          }
          if (bias) acc = tme_add_wrap(acc, bias[oc]);
          const size_t o = ((size_t)oy * p->out_w + ox) * p->out_c + oc;
          out[o] = epilogue(p, acc, mult[oc], shift[oc], residual, skip, o);
        }
      }
    }
  }
}
