/* RESIZE_NEAREST_NEIGHBOR on int8 NHWC tensors: each output pixel copies the input pixel a
 * row table and a column table name (computed when converting, as TFLite Micro computes
 * them). */
#ifndef TME_RESIZE_H
#define TME_RESIZE_H

#include "tme_common.h"

typedef struct {
  int32_t batches, in_h, in_w, out_h, out_w, depth;
} tme_resize_params;

void tme_resize_nearest_s8(const tme_resize_params *p, const int32_t *rows, const int32_t *cols,
                           const int8_t *in, int8_t *out);

#endif /* TME_RESIZE_H */
