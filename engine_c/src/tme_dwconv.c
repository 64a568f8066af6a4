/* DEPTHWISE_CONV_2D: the kernels are inline functions in tme_dwconv.h, specialised per layer
 * where the generated code calls them. */
#include "tme_dwconv.h"
