/* MAXIMUM and MINIMUM on int8 tensors, with numpy-style broadcasting over up to 4 dimensions. */
#ifndef TME_MINMAX_H
#define TME_MINMAX_H

#include "tme_common.h"

typedef struct {
  int32_t dims[4];                 /* output shape, padded to 4-D with leading 1s */
  int32_t stride1[4], stride2[4];  /* element strides of each input (0 = broadcast) */
} tme_minmax_params;

/* TFLite Micro's reference MaximumMinimumBroadcastSlow: the raw int8 values are compared,
 * whatever the scales and zero points of the inputs and the output (it reads none of them),
 * and the larger (smaller) one is stored as is. */
void tme_maximum_s8(const tme_minmax_params *p, const int8_t *in1, const int8_t *in2,
                    int8_t *out);
void tme_minimum_s8(const tme_minmax_params *p, const int8_t *in1, const int8_t *in2,
                    int8_t *out);

#endif /* TME_MINMAX_H */
