/* DEPTHWISE_CONV_2D with a depth multiplier above 1, on int8 NHWC tensors (batch 1). */
#ifndef TME_CONV_H
#define TME_CONV_H

#include "tme_add.h"
#include "tme_common.h"

typedef struct {
  int32_t in_h, in_w, in_c;
  int32_t out_h, out_w, out_c;
  int32_t k_h, k_w;
  int32_t stride_h, stride_w;
  int32_t dil_h, dil_w;
  int32_t pad_top, pad_left;     /* leading padding; trailing padding is implied by out_h/out_w */
  int32_t depth_multiplier;      /* depthwise only */
  int32_t in_offset;             /* -input zero point */
  int32_t out_offset;            /* output zero point */
  int32_t act_min, act_max;      /* fused activation clamp */
} tme_conv_params;

/* filter: [k_h][k_w][out_c] with out_c = in_c * depth_multiplier; bias: [out_c] or NULL;
 * mult/shift: per output channel; residual and skip: NULL, or a fused residual add. Output
 * pixels are written in raster order, each after the input window it reads. */
void tme_depthwise_conv2d_s8(const tme_conv_params *p, const int8_t *in, const int8_t *filter,
                             const int32_t *bias, const int32_t *mult, const int8_t *shift,
                             const tme_residual_params *residual, const int8_t *skip,
                             int8_t *out);

#endif /* TME_CONV_H */
