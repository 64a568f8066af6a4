/* RESIZE_NEAREST_NEIGHBOR: pure copies of `depth` bytes, the input pixel of output (y, x)
 * being (rows[y], cols[x]). */
#include <string.h>

#include "tme_resize.h"

void tme_resize_nearest_s8(const tme_resize_params *p, const int32_t *rows, const int32_t *cols,
                           const int8_t *in, int8_t *out) {
  const size_t depth = (size_t)p->depth;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *image = in + (size_t)b * (size_t)p->in_h * (size_t)p->in_w * depth;
    for (int32_t y = 0; y < p->out_h; ++y) {
      const int8_t *row = image + (size_t)rows[y] * (size_t)p->in_w * depth;
      for (int32_t x = 0; x < p->out_w; ++x) {
        memcpy(out, row + (size_t)cols[x] * depth, depth);
        out += depth;
      }
    }
  }
}
