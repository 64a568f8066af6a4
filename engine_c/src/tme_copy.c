/* PAD (with the output zero point or an explicit value), CONCATENATION, STRIDED_SLICE, the
 * resource-variable copies and region copies: pure copies. */
#include <string.h>

#include "tme_copy.h"

void tme_pad_s8(const tme_pad_params *p, const int8_t *in, int8_t *out) {
  int32_t od[4];
  for (int k = 0; k < 4; ++k) od[k] = p->before[k] + p->in_dims[k] + p->after[k];
  size_t o = 0, i = 0;
  for (int32_t a = 0; a < od[0]; ++a)
    for (int32_t b = 0; b < od[1]; ++b)
      for (int32_t c = 0; c < od[2]; ++c) {
        const int inside = a >= p->before[0] && a < p->before[0] + p->in_dims[0] &&
                           b >= p->before[1] && b < p->before[1] + p->in_dims[1] &&
                           c >= p->before[2] && c < p->before[2] + p->in_dims[2];
        if (!inside) {
          memset(out + o, p->pad_value, (size_t)od[3]);
        } else {
          memset(out + o, p->pad_value, (size_t)p->before[3]);
          memcpy(out + o + p->before[3], in + i, (size_t)p->in_dims[3]);
          memset(out + o + p->before[3] + p->in_dims[3], p->pad_value, (size_t)p->after[3]);
          i += (size_t)p->in_dims[3];
        }
        o += (size_t)od[3];
      }
}

void tme_concat_s8(int32_t count, int32_t outer, const int32_t *chunk, const int8_t *const *in,
                   int8_t *out) {
  for (int32_t k = 0; k < outer; ++k)
    for (int32_t i = 0; i < count; ++i) {
      memcpy(out, in[i] + (size_t)k * chunk[i], (size_t)chunk[i]);
      out += chunk[i];
    }
}

void tme_copy_region_s8(const tme_region_params *p, const int8_t *src, int8_t *dst) {
  /* memmove: a row band moves the rows it keeps to the top of their own buffer */
  for (int32_t r = 0; r < p->rows; ++r)
    memmove(dst + (size_t)r * (size_t)p->dst_stride, src + (size_t)r * (size_t)p->src_stride,
           (size_t)p->run);
}

void tme_copy_bytes(const void *src, void *dst, size_t n) { memmove(dst, src, n); }

void tme_ring_advance(int8_t *ring, int32_t *position, int32_t keep, int32_t step,
                      int32_t capacity) {
  int32_t p = *position + step;
  if (p + keep + step > capacity) {
    memmove(ring, ring + p, (size_t)keep);
    p = 0;
  }
  *position = p;
}

void tme_strided_slice_s8(const tme_slice_params *p, const int8_t *in, int8_t *out) {
  const int32_t step2 = p->in_dims[3], step1 = step2 * p->in_dims[2], step0 = step1 * p->in_dims[1];
  for (int32_t a = 0; a < p->out_dims[0]; ++a) {
    const int32_t ia = (p->start[0] + a * p->stride[0]) * step0;
    for (int32_t b = 0; b < p->out_dims[1]; ++b) {
      const int32_t ib = ia + (p->start[1] + b * p->stride[1]) * step1;
      for (int32_t c = 0; c < p->out_dims[2]; ++c) {
        const int32_t ic = ib + (p->start[2] + c * p->stride[2]) * step2 + p->start[3];
        if (p->stride[3] == 1) { /* a contiguous run (memmove: the output may overlap it) */
          memmove(out, in + ic, (size_t)p->out_dims[3]);
          out += p->out_dims[3];
        } else {
          for (int32_t d = 0; d < p->out_dims[3]; ++d) *out++ = in[ic + d * p->stride[3]];
        }
      }
    }
  }
}
