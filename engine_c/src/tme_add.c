/* ADD with broadcasting: the output is written in order, element i after its inputs are read,
 * so the output may overlap an input of its own shape (the planner relies on that). */
#include "tme_add.h"

void tme_add_s8(const tme_add_params *p, const int8_t *in1, const int8_t *in2, int8_t *out) {
  size_t o = 0;
  for (int32_t a = 0; a < p->dims[0]; ++a)
    for (int32_t b = 0; b < p->dims[1]; ++b)
      for (int32_t c = 0; c < p->dims[2]; ++c)
        for (int32_t d = 0; d < p->dims[3]; ++d, ++o) {
          const size_t i1 = (size_t)a * p->stride1[0] + (size_t)b * p->stride1[1] +
                            (size_t)c * p->stride1[2] + (size_t)d * p->stride1[3];
          const size_t i2 = (size_t)a * p->stride2[0] + (size_t)b * p->stride2[1] +
                            (size_t)c * p->stride2[2] + (size_t)d * p->stride2[3];
          out[o] = tme_add_element(p, in1[i1], in2[i2]);
        }
}
