/* TRANSPOSE_CONV as TFLite Micro's reference_integer_ops::TransposeConv: scatter into int32
 * accumulators (wrapping sums: the order does not change them), then requantize. */
#include <string.h>

#include "tme_transpose_conv.h"

void tme_transpose_conv_s8(const tme_transpose_conv_params *p, const int8_t *in,
                           const int8_t *weights, const int32_t *bias, const int32_t *mult,
                           const int8_t *shift, int32_t *acc, int8_t *out) {
  const int32_t out_size = p->out_h * p->out_w * p->out_c;
  memset(acc, 0, (size_t)out_size * sizeof(int32_t));
  for (int32_t iy = 0; iy < p->in_h; ++iy) {
    for (int32_t ix = 0; ix < p->in_w; ++ix) {
      const int8_t *pixel = in + ((size_t)iy * (size_t)p->in_w + (size_t)ix) * (size_t)p->in_c;
      for (int32_t ky = 0; ky < p->k_h; ++ky) {
        const int32_t oy = iy * p->stride_h - p->pad_top + ky;
        if (oy < 0 || oy >= p->out_h) continue;
        for (int32_t kx = 0; kx < p->k_w; ++kx) {
          const int32_t ox = ix * p->stride_w - p->pad_left + kx;
          if (ox < 0 || ox >= p->out_w) continue;
          int32_t *sums = acc + ((size_t)oy * (size_t)p->out_w + (size_t)ox) * (size_t)p->out_c;
          for (int32_t oc = 0; oc < p->out_c; ++oc) {
            const int8_t *w = weights + (((size_t)oc * (size_t)p->k_h + (size_t)ky) *
                                             (size_t)p->k_w + (size_t)kx) * (size_t)p->in_c;
            int32_t sum = 0;
            for (int32_t ic = 0; ic < p->in_c; ++ic) sum += (pixel[ic] + p->input_offset) * w[ic];
            sums[oc] = tme_add_wrap(sums[oc], sum);
          }
        }
      }
    }
  }
  for (int32_t i = 0; i < out_size; ++i) {
    const int32_t oc = i % p->out_c;
    int32_t v = acc[i];
    if (bias) v = tme_add_wrap(v, bias[oc]);
    v = tme_add_wrap(tme_requant(v, mult[oc], shift[oc]), p->output_offset);
    out[i] = tme_clamp_s8(v, p->act_min, p->act_max);
  }
}
