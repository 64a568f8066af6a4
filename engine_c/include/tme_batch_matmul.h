/* BATCH_MATMUL of int8 tensors: out[b] = lhs[b] x rhs[b] over up to 3 broadcast batch axes,
 * either operand read transposed through its strides. */
#ifndef TME_BATCH_MATMUL_H
#define TME_BATCH_MATMUL_H

#include "tme_common.h"

typedef struct {
  int32_t batch[3];                      /* output batch axes */
  int32_t lhs_batch[3], rhs_batch[3];    /* element strides of each operand (0: broadcast) */
  int32_t rows, cols, depth;             /* out[b] is rows x cols, summing depth products */
  int32_t lhs_row, lhs_k, rhs_k, rhs_col;  /* lhs[i, k] = lhs[i * lhs_row + k * lhs_k] ... */
  int32_t lhs_offset, rhs_offset, out_offset;  /* minus the zero points, the output's */
  int32_t mult, shift;                   /* lhs scale * rhs scale / output scale */
} tme_batch_matmul_params;

void tme_batch_matmul_s8(const tme_batch_matmul_params *p, const int8_t *lhs, const int8_t *rhs,
                         int8_t *out);

#endif /* TME_BATCH_MATMUL_H */
