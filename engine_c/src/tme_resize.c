/* RESIZE_NEAREST_NEIGHBOR (copies of `depth` bytes) and RESIZE_BILINEAR (TFLite Micro's
 * ResizeBilinearInteger, the interpolation weights in 1/1024ths). */
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

void tme_resize_bilinear_s8(const tme_resize_params *p, const int32_t *rows, const int32_t *cols,
                            const int8_t *in, int8_t *out) {
  const size_t depth = (size_t)p->depth, row_bytes = (size_t)p->in_w * depth;
  for (int32_t b = 0; b < p->batches; ++b) {
    const int8_t *image = in + (size_t)b * (size_t)p->in_h * row_bytes;
    for (int32_t y = 0; y < p->out_h; ++y) {
      const int8_t *top = image + (size_t)rows[3 * y] * row_bytes;
      const int8_t *bottom = image + (size_t)rows[3 * y + 1] * row_bytes;
      const int64_t wy = rows[3 * y + 2];
      for (int32_t x = 0; x < p->out_w; ++x) {
        const size_t left = (size_t)cols[3 * x] * depth, right = (size_t)cols[3 * x + 1] * depth;
        const int64_t wx = cols[3 * x + 2];
        for (size_t c = 0; c < depth; ++c) {
          const int64_t sum = top[left + c] * (1024 - wy) * (1024 - wx) +
                              bottom[left + c] * wy * (1024 - wx) +
                              top[right + c] * (1024 - wy) * wx + bottom[right + c] * wy * wx;
          const int64_t round = sum > 0 ? (1 << 19) : -(1 << 19);
          *out++ = (int8_t)((sum + round) / (1 << 20));
        }
      }
    }
  }
}
