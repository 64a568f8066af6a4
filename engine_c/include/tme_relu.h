/* RELU, RELU6 and LEAKY_RELU on int8 tensors, as TFLite Micro computes them. */
#ifndef TME_RELU_H
#define TME_RELU_H

#include "tme_common.h"

typedef struct {
  int32_t size;        /* number of elements */
  int32_t in_offset;   /* input zero point (subtracted) */
  int32_t out_offset;  /* output zero point */
  int32_t multiplier;  /* input scale / output scale */
  int32_t shift;
  int32_t act_min, act_max;
} tme_relu_params;

typedef struct {
  int32_t size;
  int32_t lower;       /* input zero point */
  int32_t upper;       /* 6.0 in the input quantization */
} tme_relu6_params;

typedef struct {
  int32_t size;
  int32_t in_offset;                 /* input zero point (subtracted) */
  int32_t out_offset;                /* output zero point */
  int32_t mult_identity, shift_identity;  /* input scale / output scale */
  int32_t mult_alpha, shift_alpha;        /* input scale * alpha / output scale (any sign) */
} tme_leaky_relu_params;

/* RELU: requantize from the input to the output scale, then clamp at the output zero point. */
void tme_relu_s8(const tme_relu_params *p, const int8_t *in, int8_t *out);

/* RELU6: a plain clamp in the input quantization (TFLM does not requantize). */
void tme_relu6_s8(const tme_relu6_params *p, const int8_t *in, int8_t *out);

/* LEAKY_RELU (reference_ops::QuantizeLeakyRelu): x - input zero point, requantized with the
 * identity multiplier where it is >= 0 and the alpha multiplier below, plus the output zero
 * point, clamped to int8. */
void tme_leaky_relu_s8(const tme_leaky_relu_params *p, const int8_t *in, int8_t *out);

#endif /* TME_RELU_H */
