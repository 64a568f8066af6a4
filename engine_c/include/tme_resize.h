/* RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR on int8 NHWC tensors, with per-row and per-column
 * tables computed when converting, as TFLite Micro computes them. */
#ifndef TME_RESIZE_H
#define TME_RESIZE_H

#include "tme_common.h"

typedef struct {
  int32_t batches, in_h, in_w, out_h, out_w, depth;
} tme_resize_params;

/* Output pixel (y, x) copies input pixel (rows[y], cols[x]). */
void tme_resize_nearest_s8(const tme_resize_params *p, const int32_t *rows, const int32_t *cols,
                           const int8_t *in, int8_t *out);

/* rows[3 y .. 3 y + 2] = (y0, y1, w): output row y mixes input rows y0 and y1 as
 * (1024 - w) : w (in 1/1024ths); cols the same for columns. The four products are summed in
 * int64 and divided by 2^20, rounding half away from zero. */
void tme_resize_bilinear_s8(const tme_resize_params *p, const int32_t *rows, const int32_t *cols,
                            const int8_t *in, int8_t *out);

#endif /* TME_RESIZE_H */
