/* Float operators of float islands: an int8 model whose converter left an op in float between
 * DEQUANTIZE and QUANTIZE (Keras' elu). */
#ifndef TME_FLOAT_OPS_H
#define TME_FLOAT_OPS_H

#include "tme_common.h"

/* ELU: x for x >= 0, expm1(x) below (the C library's expm1f, as TFLite Micro's std::expm1). */
void tme_elu_f32(int32_t size, const float *in, float *out);

#endif /* TME_FLOAT_OPS_H */
