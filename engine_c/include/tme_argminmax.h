/* ARG_MAX and ARG_MIN of an int8 tensor along one axis, as int32 indices. */
#ifndef TME_ARGMINMAX_H
#define TME_ARGMINMAX_H

#include "tme_common.h"

/* The input seen as [outer, axis_size, inner]; the output [outer, inner]. */
typedef struct {
  int32_t outer, axis_size, inner;
  int32_t is_max; /* 1: ARG_MAX, 0: ARG_MIN */
} tme_arg_params;

/* The index of the first largest (smallest) value, as TFLite Micro's ArgMinMax. */
void tme_arg_minmax_s8(const tme_arg_params *p, const int8_t *in, int32_t *out);

#endif /* TME_ARGMINMAX_H */
