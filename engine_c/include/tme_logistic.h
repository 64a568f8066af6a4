/* LOGISTIC (sigmoid) and TANH on int8 tensors: int8 output in steps of 1/256 from zero point
 * -128 (LOGISTIC) or of 1/128 around zero point 0 (TANH). */
#ifndef TME_LOGISTIC_H
#define TME_LOGISTIC_H

#include "tme_common.h"

typedef struct {
  int32_t size;               /* number of elements */
  int32_t input_zero_point;
  int32_t input_range_radius; /* |x - zp| at or beyond this saturates */
  int32_t input_multiplier;   /* input scale to Q4.27 */
  int32_t input_left_shift;
} tme_logistic_params;

void tme_logistic_s8(const tme_logistic_params *p, const int8_t *in, int8_t *out);
void tme_tanh_s8(const tme_logistic_params *p, const int8_t *in, int8_t *out);

#endif /* TME_LOGISTIC_H */
