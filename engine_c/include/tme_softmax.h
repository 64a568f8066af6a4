/* SOFTMAX on int8 tensors over the last axis: int8 output with zero point -128, scale 1/256. */
#ifndef TME_SOFTMAX_H
#define TME_SOFTMAX_H

#include "tme_common.h"

typedef struct {
  int32_t outer;             /* number of rows (product of the leading dimensions) */
  int32_t depth;             /* length of the last axis */
  int32_t input_multiplier;  /* beta * input scale, Q5.26 rescaling (PreprocessSoftmaxScaling) */
  int32_t input_left_shift;
  int32_t diff_min;          /* -CalculateInputRadius(5, input_left_shift) */
} tme_softmax_params;

void tme_softmax_s8(const tme_softmax_params *p, const int8_t *in, int8_t *out);

#endif /* TME_SOFTMAX_H */
