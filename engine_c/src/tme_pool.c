/* Pooling over the in-bounds part of each window, as TFLite's reference kernels: the average
 * divides by the number of in-bounds taps, rounding half away from zero. */
#include "tme_pool.h"

static void window(const tme_pool_params *p, int32_t oy, int32_t ox, int32_t *y0, int32_t *y1,
                   int32_t *x0, int32_t *x1) {
  const int32_t iy = oy * p->stride_h - p->pad_top, ix = ox * p->stride_w - p->pad_left;
  *y0 = tme_max_i32(0, -iy) + iy;
  *y1 = tme_min_i32(p->k_h, p->in_h - iy) + iy;
  *x0 = tme_max_i32(0, -ix) + ix;
  *x1 = tme_min_i32(p->k_w, p->in_w - ix) + ix;
}

void tme_avg_pool_s8(const tme_pool_params *p, const int8_t *in, int8_t *out) {
  for (int32_t oy = 0; oy < p->out_h; ++oy)
    for (int32_t ox = 0; ox < p->out_w; ++ox) {
      int32_t y0, y1, x0, x1;
      window(p, oy, ox, &y0, &y1, &x0, &x1);
      const int32_t count = (y1 - y0) * (x1 - x0);
      for (int32_t c = 0; c < p->channels; ++c) {
        int32_t acc = 0;
        for (int32_t y = y0; y < y1; ++y)
          for (int32_t x = x0; x < x1; ++x) acc += in[((size_t)y * p->in_w + x) * p->channels + c];
        if (count > 0) acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
        out[((size_t)oy * p->out_w + ox) * p->channels + c] = tme_clamp_s8(acc, p->act_min, p->act_max);
      }
    }
}

void tme_max_pool_s8(const tme_pool_params *p, const int8_t *in, int8_t *out) {
  for (int32_t oy = 0; oy < p->out_h; ++oy)
    for (int32_t ox = 0; ox < p->out_w; ++ox) {
      int32_t y0, y1, x0, x1;
      window(p, oy, ox, &y0, &y1, &x0, &x1);
      for (int32_t c = 0; c < p->channels; ++c) {
        int32_t best = TME_INT8_MIN;
        for (int32_t y = y0; y < y1; ++y)
          for (int32_t x = x0; x < x1; ++x)
            best = tme_max_i32(best, in[((size_t)y * p->in_w + x) * p->channels + c]);
        out[((size_t)oy * p->out_w + ox) * p->channels + c] = tme_clamp_s8(best, p->act_min, p->act_max);
      }
    }
}
