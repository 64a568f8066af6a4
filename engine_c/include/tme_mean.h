/* MEAN over height and width of an int8 NHWC tensor (global average pooling). */
#ifndef TME_MEAN_H
#define TME_MEAN_H

#include "tme_common.h"

typedef struct {
  int32_t count;      /* pixels averaged (H * W) */
  int32_t channels;
  int32_t in_zero_point, out_zero_point;
  int32_t mult, shift;   /* in_scale / (out_scale * count) */
} tme_mean_params;

void tme_mean_hw_s8(const tme_mean_params *p, const int8_t *in, int8_t *out);

#endif /* TME_MEAN_H */
