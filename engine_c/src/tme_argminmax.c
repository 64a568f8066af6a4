/* ARG_MAX / ARG_MIN: along the axis, the first index whose value is strictly larger (smaller)
 * than every one before it wins, as TFLite Micro's reference ArgMinMax compares. */
#include "tme_argminmax.h"

void tme_arg_minmax_s8(const tme_arg_params *p, const int8_t *in, int32_t *out) {
  for (int32_t o = 0; o < p->outer; ++o) {
    const int8_t *block = in + (size_t)o * (size_t)p->axis_size * (size_t)p->inner;
    for (int32_t i = 0; i < p->inner; ++i) {
      int8_t best = block[i];
      int32_t index = 0;
      for (int32_t k = 1; k < p->axis_size; ++k) {
        const int8_t v = block[(size_t)k * (size_t)p->inner + (size_t)i];
        if (p->is_max ? v > best : v < best) {
          best = v;
          index = k;
        }
      }
      *out++ = index;
    }
  }
}
