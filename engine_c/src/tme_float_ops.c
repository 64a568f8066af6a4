/* Float operators, element by element as TFLite Micro's reference_ops (same C library calls, so
 * the same float results where the library is the same). */
#include <math.h>

#include "tme_float_ops.h"

void tme_elu_f32(int32_t size, const float *in, float *out) {
  for (int32_t i = 0; i < size; ++i) {
    const float v = in[i];
    out[i] = v < 0.0f ? expm1f(v) : v;
  }
}
