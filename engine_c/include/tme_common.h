/* tflm-mcunet engine: what every kernel includes (attributes, the instruction-set path, the
 * requantization arithmetic). The DSP and AVX2 helpers are included by the kernels of those
 * paths: tme_dsp.h, tme_avx2.h. */
#ifndef TME_COMMON_H
#define TME_COMMON_H

#include "tme_compiler.h"
#include "tme_isa.h"
#include "tme_requant.h"

#endif /* TME_COMMON_H */
