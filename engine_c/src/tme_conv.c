/* CONV_2D and DEPTHWISE_CONV_2D, with TFLite Micro's reference integer semantics:
 * acc = bias + sum((x + in_offset) * w) over the in-bounds taps (padding reads the zero
 * point), then per-channel requantization, output offset and the activation clamp. */
#include "tme_conv.h"

void tme_conv2d_s8(const tme_conv_params *p, const int8_t *in, const int8_t *filter,
                   const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *out) {
  for (int32_t oy = 0; oy < p->out_h; ++oy) {
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    for (int32_t ox = 0; ox < p->out_w; ++ox) {
      const int32_t ix0 = ox * p->stride_w - p->pad_left;
      for (int32_t oc = 0; oc < p->out_c; ++oc) {
        int32_t acc = 0;
        for (int32_t ky = 0; ky < p->k_h; ++ky) {
          const int32_t iy = iy0 + ky * p->dil_h;
          if (iy < 0 || iy >= p->in_h) continue;
          for (int32_t kx = 0; kx < p->k_w; ++kx) {
            const int32_t ix = ix0 + kx * p->dil_w;
            if (ix < 0 || ix >= p->in_w) continue;
            const int8_t *x = in + ((size_t)iy * p->in_w + ix) * p->in_c;
            const int8_t *w = filter + (((size_t)oc * p->k_h + ky) * p->k_w + kx) * p->in_c;
            for (int32_t c = 0; c < p->in_c; ++c) acc += ((int32_t)x[c] + p->in_offset) * w[c];
          }
        }
        if (bias) acc += bias[oc];
        acc = tme_requant(acc, mult[oc], shift[oc]) + p->out_offset;
        out[((size_t)oy * p->out_w + ox) * p->out_c + oc] = tme_clamp_s8(acc, p->act_min, p->act_max);
      }
    }
  }
}

void tme_depthwise_conv2d_s8(const tme_conv_params *p, const int8_t *in, const int8_t *filter,
                             const int32_t *bias, const int32_t *mult, const int32_t *shift,
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
          if (bias) acc += bias[oc];
          acc = tme_requant(acc, mult[oc], shift[oc]) + p->out_offset;
          out[((size_t)oy * p->out_w + ox) * p->out_c + oc] = tme_clamp_s8(acc, p->act_min, p->act_max);
        }
      }
    }
  }
}
