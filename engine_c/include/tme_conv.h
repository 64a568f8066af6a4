/* Convolutions: CONV_2D and DEPTHWISE_CONV_2D on int8 NHWC tensors (batch 1). */
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

/* filter: [out_c][k_h][k_w][in_c]; bias: [out_c] or NULL; mult/shift: per output channel;
 * residual and skip: NULL, or a fused residual add. Output pixels are written in raster
 * order, each after the input window it reads. */
void tme_conv2d_s8(const tme_conv_params *p, const int8_t *in, const int8_t *filter,
                   const int32_t *bias, const int32_t *mult, const int8_t *shift,
                   const tme_residual_params *residual, const int8_t *skip, int8_t *out);

/* filter: [k_h][k_w][out_c] with out_c = in_c * depth_multiplier. */
void tme_depthwise_conv2d_s8(const tme_conv_params *p, const int8_t *in, const int8_t *filter,
                             const int32_t *bias, const int32_t *mult, const int8_t *shift,
                             const tme_residual_params *residual, const int8_t *skip,
                             int8_t *out);

/* In-place depthwise (depth multiplier 1): the output overwrites the input, one channel at a
 * time. Channel c is computed into `scratch` (out_h * out_w bytes) from input channel c, then
 * copied over input channel c's first out_h * out_w pixels, which nothing reads any more.
 * `data` holds the input on entry and the output on return. */
void tme_depthwise_conv2d_inplace_s8(const tme_conv_params *p, int8_t *data,
                                     const int8_t *filter, const int32_t *bias,
                                     const int32_t *mult, const int8_t *shift, int8_t *scratch);

#endif /* TME_CONV_H */
