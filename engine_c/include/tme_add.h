/* ADD on int8 tensors, with numpy-style broadcasting over up to 4 dimensions. */
#ifndef TME_ADD_H
#define TME_ADD_H

#include "tme_common.h"

typedef struct {
  int32_t dims[4];                       /* output shape */
  int32_t stride1[4], stride2[4];        /* element strides of each input (0 = broadcast) */
  int32_t in1_offset, in2_offset, out_offset;
  int32_t in1_mult, in1_shift, in2_mult, in2_shift, out_mult, out_shift;
  int32_t left_shift;
  int32_t act_min, act_max;
} tme_add_params;

void tme_add_s8(const tme_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out);

#endif /* TME_ADD_H */
