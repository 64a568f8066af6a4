/* The only float code of the engine: converting the model's float inputs and outputs, as
 * TFLite's AffineQuantize (round half away from zero in float) and Dequantize (in double). */
#include <math.h>

#include "tme_quantize.h"

void tme_quantize_f32_s8(const float *in, int8_t *out, size_t n, float scale, int32_t zero_point) {
  for (size_t i = 0; i < n; ++i) {
    const float q = roundf(in[i] / scale);
    /* clamp in float first: the cast of an out-of-range float is undefined */
    const float lo = (float)(TME_INT8_MIN - zero_point), hi = (float)(TME_INT8_MAX - zero_point);
    const float c = q != q ? 0.0f : (q < lo ? lo : (q > hi ? hi : q));
    out[i] = tme_clamp_s8((int32_t)c + zero_point, TME_INT8_MIN, TME_INT8_MAX);
  }
}

void tme_dequantize_s8_f32(const int8_t *in, float *out, size_t n, double scale, int32_t zero_point) {
  for (size_t i = 0; i < n; ++i) out[i] = (float)(scale * (double)((int32_t)in[i] - zero_point));
}

void tme_requantize_s8(const int8_t *in, int8_t *out, size_t n, int32_t in_zero_point,
                       int32_t out_zero_point, int32_t mult, int32_t shift) {
  for (size_t i = 0; i < n; ++i) {
    const int32_t v =
        tme_add_wrap(tme_requant((int32_t)in[i] - in_zero_point, mult, shift), out_zero_point);
    out[i] = tme_clamp_s8(v, TME_INT8_MIN, TME_INT8_MAX);
  }
}

void tme_requantize_s8_u8(const int8_t *in, uint8_t *out, size_t n, int32_t in_zero_point,
                          int32_t out_zero_point, int32_t mult, int32_t shift) {
  for (size_t i = 0; i < n; ++i) {
    const int32_t v =
        tme_add_wrap(tme_requant((int32_t)in[i] - in_zero_point, mult, shift), out_zero_point);
    out[i] = (uint8_t)(v < 0 ? 0 : (v > 255 ? 255 : v));
  }
}

void tme_requantize_u8_s8(const uint8_t *in, int8_t *out, size_t n, int32_t in_zero_point,
                          int32_t out_zero_point, int32_t mult, int32_t shift) {
  for (size_t i = 0; i < n; ++i) {
    const int32_t v =
        tme_add_wrap(tme_requant((int32_t)in[i] - in_zero_point, mult, shift), out_zero_point);
    out[i] = tme_clamp_s8(v, TME_INT8_MIN, TME_INT8_MAX);
  }
}
