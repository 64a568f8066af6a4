/* CONV_2D and FULLY_CONNECTED on x86 with AVX2 (tme_gemm.h selects it). */
#ifndef TME_GEMM_AVX2_H
#define TME_GEMM_AVX2_H

#include "tme_avx2.h"
#include "tme_gemm_ref.h"

/* AVX2, two kernels over the rows of a block widened to 16 bits (x[i][k], rows of at most
 * TME_GEMM_AVX2_K values):
 * - tme_gemm_avx2_rows4, 4 rows x 8 channels at a time: each VPMADDWD takes two values of k of
 *   8 channels against the same two values of one row (broadcast); the requantization 8
 *   channels at a time. The weights are rearranged once per call on the stack as 16-bit pairs
 *   of k, channel by channel (pairs[(k / 2) * 2 * out_c + 2 * j + k % 2] = w[j][k]), so it takes
 *   layers of at most TME_GEMM_AVX2_WEIGHTS weights, a multiple of 8 channels and rows enough
 *   to repay the rearranging (tme_gemm_avx2_fits).
 * - tme_gemm_avx2_dots, any other block (the deep layers with few pixels and many weights,
 *   fully connected layers, the last rows): each sum a dot product along k, 16 values per
 *   VPMADDWD, the weights read in place. */
#define TME_GEMM_AVX2_WEIGHTS 16384
#define TME_GEMM_AVX2_MIN_ROWS 16
#define TME_GEMM_AVX2_K 2048

TME_INLINE int tme_gemm_avx2_fits(const tme_gemm_params *p) {
  return p->out_c % 8 == 0 && p->k4 * p->out_c <= TME_GEMM_AVX2_WEIGHTS &&
         p->rows >= TME_GEMM_AVX2_MIN_ROWS;
}

TME_INLINE void tme_gemm_avx2_pairs(const tme_gemm_params *p, const int8_t *w, int16_t *pairs) {
  for (int32_t k = 0; k < p->k4; k += 2)
    for (int32_t j = 0; j < p->out_c; ++j) {
      pairs[k * p->out_c + 2 * j] = w[(size_t)j * (size_t)p->k4 + k];
      pairs[k * p->out_c + 2 * j + 1] = w[(size_t)j * (size_t)p->k4 + k + 1];
    }
}

/* The n rows of a block in scratch (u8, x + 128) as 16-bit values. */
TME_INLINE void tme_gemm_avx2_widen(const tme_gemm_params *p, const uint8_t *scratch, int32_t n,
                                    int16_t (*x)[TME_GEMM_AVX2_K]) {
  for (int32_t i = 0; i < n; ++i) {
    const uint8_t *src = scratch + i * p->k4;
    int32_t k = 0;
    for (; k + 16 <= p->k4; k += 16)
      _mm256_storeu_si256((__m256i *)(void *)&x[i][k], _mm256_cvtepu8_epi16(
          _mm_loadu_si128((const __m128i *)(const void *)(src + k))));
    for (; k < p->k4; ++k) x[i][k] = src[k];
  }
}

/* Outputs of rows [r, r + 4). */
TME_INLINE void tme_gemm_avx2_rows4(const tme_gemm_params *p, const int16_t *pairs,
                                    const int16_t (*x)[TME_GEMM_AVX2_K], const int32_t *bias,
                                    const int32_t *mult, const int8_t *shift,
                                    const tme_residual_params *residual, const int8_t *skip,
                                    int32_t r, int8_t *out) {
  for (int32_t j = 0; j < p->out_c; j += 8) {
    __m256i s[TME_GEMM_ROWS];
    for (int32_t i = 0; i < TME_GEMM_ROWS; ++i)
      s[i] = _mm256_loadu_si256((const __m256i *)(const void *)(bias + j));
    for (int32_t k = 0; k < p->k4; k += 2) {
      const __m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)(
          pairs + k * p->out_c + 2 * j));
      for (int32_t i = 0; i < TME_GEMM_ROWS; ++i) {
        int32_t both;  /* x[i][k] and x[i][k + 1] */
        memcpy(&both, &x[i][k], sizeof both);
        s[i] = _mm256_add_epi32(s[i], _mm256_madd_epi16(_mm256_set1_epi32(both), wv));
      }
    }
    const tme_requant8_consts q = tme_requant8_load(mult, shift, j, p->out_offset, p->act_min,
                                                    p->act_max, p->right_shift);
    for (int32_t i = 0; i < TME_GEMM_ROWS; ++i) {
      const size_t o = (size_t)(r + i) * (size_t)p->out_c + (size_t)j;
      if (!residual)
        tme_store8_s8(out + o, tme_requant8(s[i], &q));
      else
        tme_residual8_store(residual, tme_requant8(s[i], &q), skip, o, out);
    }
  }
}

/* 16 weights of a row at w (fewer at its end: n of 4, 8 or 12, the rest 0) as 16-bit lanes. */
TME_INLINE __m256i tme_gemm_avx2_w16(const int8_t *w, int32_t n) {
  if (n >= 16) return _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)w));
  /* the tail of a row: its first 8 bytes in one load, 4 more in another (k4 % 4 == 0) */
  __m128i v = _mm_setzero_si128();
  int32_t last;
  if (n >= 8) {
    v = _mm_loadl_epi64((const __m128i *)(const void *)w);
    if (n >= 12) {
      memcpy(&last, w + 8, sizeof last);
      v = _mm_insert_epi32(v, last, 2);
    }
  } else {
    memcpy(&last, w, sizeof last);
    v = _mm_cvtsi32_si128(last);
  }
  return _mm256_cvtepi8_epi16(v);
}

/* The sums (without the bias) of n rows x channels [oc0, oc0 + nb) into acc. */
TME_INLINE void tme_gemm_avx2_dots(const tme_gemm_params *p, const int8_t *w,
                                   const int16_t (*x)[TME_GEMM_AVX2_K], int32_t n, int32_t oc0,
                                   int32_t nb, int32_t (*acc)[TME_GEMM_OC_BLOCK]) {
  /* x past k4 is never read into a sum: its weights are 0 */
#define TME_GEMM_AVX2_DOT(s, i, k, wv)                                                          \
  s = _mm256_add_epi32(s, _mm256_madd_epi16(                                                    \
          _mm256_loadu_si256((const __m256i *)(const void *)&x[i][k]), wv))
  for (int32_t j = 0; j < nb; ++j) {
    const int8_t *wr = w + (size_t)(oc0 + j) * (size_t)p->k4;
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    if (n == TME_GEMM_ROWS) {
      for (int32_t k = 0; k < p->k4; k += 16) {
        const __m256i wv = tme_gemm_avx2_w16(wr + k, p->k4 - k);
        TME_GEMM_AVX2_DOT(s0, 0, k, wv);
        TME_GEMM_AVX2_DOT(s1, 1, k, wv);
        TME_GEMM_AVX2_DOT(s2, 2, k, wv);
        TME_GEMM_AVX2_DOT(s3, 3, k, wv);
      }
    } else {  /* the last rows, or the one row of a fully connected layer */
      for (int32_t k = 0; k < p->k4; k += 16) {
        const __m256i wv = tme_gemm_avx2_w16(wr + k, p->k4 - k);
        TME_GEMM_AVX2_DOT(s0, 0, k, wv);
        if (n > 1) TME_GEMM_AVX2_DOT(s1, 1, k, wv);
        if (n > 2) TME_GEMM_AVX2_DOT(s2, 2, k, wv);
      }
    }
    /* the 8 lanes of each row added up: two horizontal adds and the two halves */
    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(s0, s1), _mm256_hadd_epi32(s2, s3));
    int32_t sums[4];
    _mm_storeu_si128((__m128i *)(void *)sums, _mm_add_epi32(_mm256_castsi256_si128(h),
                                                            _mm256_extracti128_si256(h, 1)));
    for (int32_t i = 0; i < n; ++i) acc[i][j] = sums[i];
  }
#undef TME_GEMM_AVX2_DOT
}

TME_INLINE void tme_gemm_s8(const tme_gemm_params *p, const int8_t *in, const int8_t *w,
                            const int32_t *bias, const int32_t *mult, const int8_t *shift,
                            const tme_residual_params *residual, const int8_t *skip,
                            uint8_t *scratch, int8_t *out) {
  if (p->k4 > TME_GEMM_AVX2_K) {  /* rows longer than x below: the reference */
    tme_gemm_ref_s8(p, in, w, bias, mult, shift, residual, skip, scratch, out);
    return;
  }
  const int rows4 = tme_gemm_avx2_fits(p);
  int16_t pairs[TME_GEMM_AVX2_WEIGHTS];
  int16_t x[TME_GEMM_ROWS][TME_GEMM_AVX2_K];
  if (rows4) tme_gemm_avx2_pairs(p, w, pairs);
  for (int32_t r = 0; r < p->rows; r += TME_GEMM_ROWS) {
    const int32_t n = p->rows - r < TME_GEMM_ROWS ? p->rows - r : TME_GEMM_ROWS;
    for (int32_t i = 0; i < n; ++i) tme_gemm_row_u8(p, in, r + i, scratch + i * p->k4);
    tme_gemm_avx2_widen(p, scratch, n, x);
    if (rows4 && n == TME_GEMM_ROWS) {
      tme_gemm_avx2_rows4(p, pairs, (const int16_t(*)[TME_GEMM_AVX2_K])x, bias, mult, shift,
                          residual, skip, r, out);
      continue;
    }
    for (int32_t oc0 = 0; oc0 < p->out_c; oc0 += TME_GEMM_OC_BLOCK) {
      const int32_t nb = p->out_c - oc0 < TME_GEMM_OC_BLOCK ? p->out_c - oc0 : TME_GEMM_OC_BLOCK;
      int32_t acc[TME_GEMM_ROWS][TME_GEMM_OC_BLOCK];
      tme_gemm_avx2_dots(p, w, (const int16_t(*)[TME_GEMM_AVX2_K])x, n, oc0, nb, acc);
      for (int32_t i = 0; i < n; ++i)
        tme_gemm_store(p, acc[i], (size_t)(r + i) * (size_t)p->out_c + (size_t)oc0, oc0, nb,
                       bias, mult, shift, residual, skip, out);
    }
  }
}

#endif /* TME_GEMM_AVX2_H */
