/* HARD_SWISH on int8 tensors: x * relu6(x + 3) / 6 in 16-bit fixed point. */
#ifndef TME_HARD_SWISH_H
#define TME_HARD_SWISH_H

#include "tme_common.h"

typedef struct {
  int32_t size;                /* number of elements */
  int32_t input_zero_point;
  int32_t output_zero_point;
  int32_t reluish_multiplier;  /* int16 fixed point: input scale / 128 over 3 / 32768 */
  int32_t reluish_exponent;
  int32_t output_multiplier;   /* int16 fixed point: input scale / 128 over output scale */
  int32_t output_exponent;     /* <= 0 */
} tme_hard_swish_params;

void tme_hard_swish_s8(const tme_hard_swish_params *p, const int8_t *in, int8_t *out);

#endif /* TME_HARD_SWISH_H */
