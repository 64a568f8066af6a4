/* QUANTIZE (float -> int8, int8 -> int8, int8 <-> uint8) and DEQUANTIZE (int8 -> float) at the
 * model's edges. */
#ifndef TME_QUANTIZE_H
#define TME_QUANTIZE_H

#include "tme_common.h"

void tme_quantize_f32_s8(const float *in, int8_t *out, size_t n, float scale, int32_t zero_point);
void tme_dequantize_s8_f32(const int8_t *in, float *out, size_t n, double scale, int32_t zero_point);
void tme_requantize_s8(const int8_t *in, int8_t *out, size_t n, int32_t in_zero_point,
                       int32_t out_zero_point, int32_t mult, int32_t shift);
void tme_requantize_s8_u8(const int8_t *in, uint8_t *out, size_t n, int32_t in_zero_point,
                          int32_t out_zero_point, int32_t mult, int32_t shift);
void tme_requantize_u8_s8(const uint8_t *in, int8_t *out, size_t n, int32_t in_zero_point,
                          int32_t out_zero_point, int32_t mult, int32_t shift);

#endif /* TME_QUANTIZE_H */
