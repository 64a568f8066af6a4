/* PRELU on int8 tensors: x where x >= 0, alpha * x elsewhere, alpha broadcast over up to 4
 * dimensions (one slope per channel, usually). */
#ifndef TME_PRELU_H
#define TME_PRELU_H

#include "tme_common.h"

typedef struct {
  int32_t dims[4];                /* output shape, padded to 4-D with leading 1s */
  int32_t stride1[4], stride2[4]; /* element strides of the input and alpha (0 = broadcast) */
  int32_t input_offset, alpha_offset, output_offset;
  int32_t mult_identity, shift_identity; /* input scale / output scale */
  int32_t mult_alpha, shift_alpha;       /* input scale * alpha scale / output scale */
} tme_prelu_params;

void tme_prelu_s8(const tme_prelu_params *p, const int8_t *in, const int8_t *alpha,
                  int8_t *out);

#endif /* TME_PRELU_H */
