/* FULLY_CONNECTED on int8 tensors. */
#ifndef TME_FULLY_CONNECTED_H
#define TME_FULLY_CONNECTED_H

#include "tme_common.h"

typedef struct {
  int32_t batches, in_depth, out_depth;
  int32_t in_offset, filter_offset, out_offset;
  int32_t act_min, act_max;
} tme_fc_params;

/* filter: [out_depth][in_depth]; bias: [out_depth] or NULL; mult/shift: per output (one value
 * repeated for per-tensor weights). */
void tme_fully_connected_s8(const tme_fc_params *p, const int8_t *in, const int8_t *filter,
                            const int32_t *bias, const int32_t *mult, const int8_t *shift,
                            int8_t *out);

#endif /* TME_FULLY_CONNECTED_H */
