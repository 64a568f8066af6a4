/* CONV_2D and FULLY_CONNECTED as matrix products, the portable reference (tme_gemm.h selects
 * it): blocks of 4 rows x 64 channels, the loops shaped for compilers to vectorise. The AVX2
 * path (tme_gemm_avx2.h) takes it for rows too long for its kernels. */
#ifndef TME_GEMM_REF_H
#define TME_GEMM_REF_H

#include "tme_gemm.h"

/* The epilogue of one output value. */
TME_INLINE int8_t tme_gemm_out(const tme_gemm_params *p, int32_t acc, int32_t bias, int32_t mult,
                               int32_t shift, const tme_residual_params *residual,
                               const int8_t *skip, size_t index) {
  const int8_t v = tme_requant_s8(tme_add_wrap(acc, bias), mult, shift, p->out_offset,
                                  p->act_min, p->act_max, p->right_shift);
  return residual ? tme_residual_element(residual, v, skip[index]) : v;
}

/* A short k (the first convolution of an RGB image, narrow 1x1 layers) leaves little to
 * vectorise along k: with at most TME_GEMM_SMALL_K values per row and one block of output
 * channels, the weights are transposed once per call into 16-bit columns on the stack and the
 * product vectorises over the output channels. Vector hosts only: it costs stack and gains
 * nothing on a scalar microcontroller. */
#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define TME_GEMM_SMALL_K 0
#else
#define TME_GEMM_SMALL_K 32
#endif

/* The epilogue of nb channels from oc0 of one row: their sums at acc, the outputs at o. */
TME_INLINE void tme_gemm_store(const tme_gemm_params *p, const int32_t *acc, size_t o,
                               int32_t oc0, int32_t nb, const int32_t *bias,
                               const int32_t *mult, const int8_t *shift,
                               const tme_residual_params *residual, const int8_t *skip,
                               int8_t *out) {
  for (int32_t j = 0; j < nb; ++j)
    out[o + j] = tme_gemm_out(p, acc[j], bias[oc0 + j], mult[oc0 + j], shift[oc0 + j],
                              residual, skip, o + j);
}

TME_INLINE void tme_gemm_ref_s8(const tme_gemm_params *p, const int8_t *in, const int8_t *w,
                                const int32_t *bias, const int32_t *mult, const int8_t *shift,
                                const tme_residual_params *residual, const int8_t *skip,
                                uint8_t *scratch, int8_t *out) {
  const int small_k = p->k4 <= TME_GEMM_SMALL_K && p->out_c <= TME_GEMM_OC_BLOCK;
  int16_t wt[TME_GEMM_SMALL_K ? TME_GEMM_SMALL_K * TME_GEMM_OC_BLOCK : 1];
  if (small_k)
    for (int32_t k = 0; k < p->k4; ++k)
      for (int32_t j = 0; j < p->out_c; ++j)
        wt[k * p->out_c + j] = w[(size_t)j * (size_t)p->k4 + k];
  for (int32_t r = 0; r < p->rows; r += TME_GEMM_ROWS) {
    const int32_t n = p->rows - r < TME_GEMM_ROWS ? p->rows - r : TME_GEMM_ROWS;
    for (int32_t i = 0; i < n; ++i) tme_gemm_row_u8(p, in, r + i, scratch + i * p->k4);
    for (int32_t oc0 = 0; oc0 < p->out_c; oc0 += TME_GEMM_OC_BLOCK) {
      const int32_t nb = p->out_c - oc0 < TME_GEMM_OC_BLOCK ? p->out_c - oc0 : TME_GEMM_OC_BLOCK;
      int32_t acc[TME_GEMM_ROWS][TME_GEMM_OC_BLOCK];
      if (n == TME_GEMM_ROWS && small_k) {  /* one block of channels: nb == out_c */
        const uint8_t *a0 = scratch, *a1 = a0 + p->k4, *a2 = a1 + p->k4, *a3 = a2 + p->k4;
        for (int32_t j = 0; j < nb; ++j) acc[0][j] = acc[1][j] = acc[2][j] = acc[3][j] = 0;
        for (int32_t k = 0; k < p->k4; ++k) {
          const int16_t *wk = wt + k * p->out_c;
          const int32_t x0 = a0[k], x1 = a1[k], x2 = a2[k], x3 = a3[k];
          for (int32_t j = 0; j < nb; ++j) {
            acc[0][j] += x0 * wk[j];
            acc[1][j] += x1 * wk[j];
            acc[2][j] += x2 * wk[j];
            acc[3][j] += x3 * wk[j];
          }
        }
      } else if (n == TME_GEMM_ROWS) {
        const uint8_t *a0 = scratch, *a1 = a0 + p->k4, *a2 = a1 + p->k4, *a3 = a2 + p->k4;
        for (int32_t j = 0; j < nb; ++j) {
          const int8_t *wr = w + (size_t)(oc0 + j) * (size_t)p->k4;
          int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
          for (int32_t k = 0; k < p->k4; ++k) {
            const int32_t wk = wr[k];
            s0 += a0[k] * wk;
            s1 += a1[k] * wk;
            s2 += a2[k] * wk;
            s3 += a3[k] * wk;
          }
          acc[0][j] = s0;
          acc[1][j] = s1;
          acc[2][j] = s2;
          acc[3][j] = s3;
        }
      } else {
        for (int32_t i = 0; i < n; ++i) {
          const uint8_t *a = scratch + i * p->k4;
          for (int32_t j = 0; j < nb; ++j) {
            const int8_t *wr = w + (size_t)(oc0 + j) * (size_t)p->k4;
            int32_t s = 0;
            for (int32_t k = 0; k < p->k4; ++k) s += a[k] * wr[k];
            acc[i][j] = s;
          }
        }
      }
      for (int32_t i = 0; i < n; ++i)
        tme_gemm_store(p, acc[i], (size_t)(r + i) * (size_t)p->out_c + (size_t)oc0, oc0, nb,
                       bias, mult, shift, residual, skip, out);
    }
  }
}

#endif /* TME_GEMM_REF_H */
