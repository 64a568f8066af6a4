/* MAXIMUM / MINIMUM with broadcasting: the output is written in order, element i after its
 * inputs are read, so the output may overlap an input of its own shape. */
#include "tme_minmax.h"

/* The broadcasting loop of both; `maximum` is a constant in each caller, so it folds. */
TME_INLINE void minmax_s8(const tme_minmax_params *p, const int8_t *in1, const int8_t *in2,
                          int8_t *out, int maximum) {
  size_t o = 0;
  for (int32_t a = 0; a < p->dims[0]; ++a)
    for (int32_t b = 0; b < p->dims[1]; ++b)
      for (int32_t c = 0; c < p->dims[2]; ++c) {
        const int8_t *x = in1 + (size_t)a * p->stride1[0] + (size_t)b * p->stride1[1] +
                          (size_t)c * p->stride1[2];
        const int8_t *y = in2 + (size_t)a * p->stride2[0] + (size_t)b * p->stride2[1] +
                          (size_t)c * p->stride2[2];
        for (int32_t d = 0; d < p->dims[3]; ++d, ++o) {
          const int8_t u = x[(size_t)d * p->stride1[3]], v = y[(size_t)d * p->stride2[3]];
          out[o] = maximum ? (u > v ? u : v) : (u < v ? u : v);
        }
      }
}

void tme_maximum_s8(const tme_minmax_params *p, const int8_t *in1, const int8_t *in2,
                    int8_t *out) {
  minmax_s8(p, in1, in2, out, 1);
}

void tme_minimum_s8(const tme_minmax_params *p, const int8_t *in1, const int8_t *in2,
                    int8_t *out) {
  minmax_s8(p, in1, in2, out, 0);
}
