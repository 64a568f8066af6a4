/* MUL on int8 tensors, with numpy-style broadcasting over up to 4 dimensions. */
#ifndef TME_MUL_H
#define TME_MUL_H

#include "tme_common.h"

typedef struct {
  int32_t dims[4];                 /* output shape, padded to 4-D with leading 1s */
  int32_t stride1[4], stride2[4];  /* element strides of each input (0 = broadcast) */
  int32_t broadcast;               /* 0: both inputs have the output's elements, flat loop */
  int32_t in1_offset, in2_offset;  /* -input zero points */
  int32_t out_offset;              /* output zero point */
  int32_t multiplier, shift;       /* in1 scale * in2 scale / output scale */
  int32_t act_min, act_max;        /* fused activation clamp */
} tme_mul_params;

void tme_mul_s8(const tme_mul_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);

#endif /* TME_MUL_H */
