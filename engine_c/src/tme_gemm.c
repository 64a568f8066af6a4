/* CONV_2D and FULLY_CONNECTED as matrix products: the kernels are inline functions in
 * tme_gemm.h, specialised per layer where the generated code calls them. */
#include "tme_gemm.h"
