/* TANH on int8 tensors: int8 output in steps of 1/128 around zero point 0. */
#ifndef TME_TANH_H
#define TME_TANH_H

#include "tme_common.h"

typedef struct {
  int32_t size;               /* number of elements */
  int32_t input_zero_point;
  int32_t input_range_radius; /* |x - zp| at or beyond this saturates */
  int32_t input_multiplier;   /* input scale to Q4.27 */
  int32_t input_left_shift;
} tme_tanh_params;

void tme_tanh_s8(const tme_tanh_params *p, const int8_t *in, int8_t *out);

#endif /* TME_TANH_H */
