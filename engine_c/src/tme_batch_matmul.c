/* BATCH_MATMUL as TFLite Micro's reference BatchMatMul<int8_t, int32_t>: the int32 sum of
 * (lhs - zp) * (rhs - zp), requantized, offset and clamped to int8 (no fused activation). */
#include "tme_batch_matmul.h"

void tme_batch_matmul_s8(const tme_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs,
                         int8_t *out) {
  for (int32_t b0 = 0; b0 < p->batch[0]; ++b0)
    for (int32_t b1 = 0; b1 < p->batch[1]; ++b1)
      for (int32_t b2 = 0; b2 < p->batch[2]; ++b2) {
        const int8_t *l = lhs + b0 * p->lhs_batch[0] + b1 * p->lhs_batch[1] + b2 * p->lhs_batch[2];
        const int8_t *r = rhs + b0 * p->rhs_batch[0] + b1 * p->rhs_batch[1] + b2 * p->rhs_batch[2];
        for (int32_t i = 0; i < p->rows; ++i) {
          for (int32_t j = 0; j < p->cols; ++j) {
            int32_t acc = 0;
            for (int32_t k = 0; k < p->depth; ++k) {
              acc += (l[i * p->lhs_row + k * p->lhs_k] + p->lhs_offset) *
                     (r[k * p->rhs_k + j * p->rhs_col] + p->rhs_offset);
            }
            acc = tme_add_wrap(tme_requant(acc, p->mult, p->shift), p->out_offset);
            *out++ = tme_clamp_s8(acc, TME_INT8_MIN, TME_INT8_MAX);
          }
        }
      }
}
