/* AVERAGE_POOL_2D and MAX_POOL_2D on int8 NHWC tensors (batch 1). */
#ifndef TME_POOL_H
#define TME_POOL_H

#include "tme_common.h"

typedef struct {
  int32_t in_h, in_w, channels, out_h, out_w;
  int32_t k_h, k_w, stride_h, stride_w, pad_top, pad_left;
  int32_t act_min, act_max;
} tme_pool_params;

void tme_avg_pool_s8(const tme_pool_params *p, const int8_t *in, int8_t *out);
void tme_max_pool_s8(const tme_pool_params *p, const int8_t *in, int8_t *out);

#endif /* TME_POOL_H */
