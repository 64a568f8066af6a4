/* TRANSPOSE_CONV on int8 NHWC tensors (batch 1), weights [out_c, k_h, k_w, in_c] per output
 * channel. */
#ifndef TME_TRANSPOSE_CONV_H
#define TME_TRANSPOSE_CONV_H

#include "tme_common.h"

typedef struct {
  int32_t in_h, in_w, in_c, out_h, out_w, out_c, k_h, k_w;
  int32_t stride_h, stride_w, pad_top, pad_left;
  int32_t input_offset, output_offset, act_min, act_max;
} tme_transpose_conv_params;

/* Each input pixel scatters (x - zp) * w into the int32 accumulators `acc` (out_h * out_w *
 * out_c of them, in scratch) of the output pixels its window covers; then each accumulator
 * plus its bias is requantized per channel (mult, shift as TFLite's), clamped. */
void tme_transpose_conv_s8(const tme_transpose_conv_params *p, const int8_t *in,
                           const int8_t *weights, const int32_t *bias, const int32_t *mult,
                           const int8_t *shift, int32_t *acc, int8_t *out);

#endif /* TME_TRANSPOSE_CONV_H */
