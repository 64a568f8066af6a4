/* REDUCE_MAX, REDUCE_MIN and SUM of an int8 tensor over any of its (up to 4) axes. */
#ifndef TME_REDUCE_H
#define TME_REDUCE_H

#include "tme_common.h"

/* The input padded to 4-D at the front. An output element is the reduction of the input
 * elements at base + b0 * reduced_stride[0] + ... + b3 * reduced_stride[3] (b_i <
 * reduced[i]); the bases step through the kept axes (a_i < kept[i], a_i * kept_stride[i]) in
 * row-major order, which is the output's order. A reduced axis has kept 1, a kept one
 * reduced 1. */
typedef struct {
  int32_t kept[4], kept_stride[4];
  int32_t reduced[4], reduced_stride[4];
} tme_reduce_shape;

typedef struct {
  tme_reduce_shape shape;
  int32_t count;          /* elements reduced into each output */
  int32_t in_zero_point, out_zero_point;
  int32_t mult, shift;    /* input scale / output scale */
} tme_reduce_sum_params;

/* The largest (smallest) raw value: TFLite Micro requires the same scale in and out. */
void tme_reduce_max_s8(const tme_reduce_shape *p, const int8_t *in, int8_t *out);
void tme_reduce_min_s8(const tme_reduce_shape *p, const int8_t *in, int8_t *out);
/* The sum of (x - in_zero_point), requantized. */
void tme_reduce_sum_s8(const tme_reduce_sum_params *p, const int8_t *in, int8_t *out);

#endif /* TME_REDUCE_H */
