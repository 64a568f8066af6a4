/* PAD (with the output zero point or an explicit value), CONCATENATION, region copies, strided
 * copies (TRANSPOSE, SLICE, STRIDED_SLICE, SPACE_TO_DEPTH, DEPTH_TO_SPACE), indexed copies
 * (MIRROR_PAD, GATHER) and a streaming model's state copies and ring buffers: pure copies. */
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

void tme_strided_copy_s8(const tme_strided_params *p, const int8_t *in, int8_t *out) {
  const int32_t *d = p->dims, *s = p->in_stride;
  for (int32_t i0 = 0; i0 < d[0]; ++i0)
    for (int32_t i1 = 0; i1 < d[1]; ++i1)
      for (int32_t i2 = 0; i2 < d[2]; ++i2)
        for (int32_t i3 = 0; i3 < d[3]; ++i3)
          for (int32_t i4 = 0; i4 < d[4]; ++i4) {
            const int8_t *src = in + p->base + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3] +
                                i4 * s[4];
            if (s[5] == 1) {
              memcpy(out, src, (size_t)d[5]);
            } else {
              for (int32_t i5 = 0; i5 < d[5]; ++i5) out[i5] = src[i5 * s[5]];
            }
            out += d[5];
          }
}

/* Index i along an axis: its table's entry, or i itself. */
static int32_t axis_index(const int32_t *table, int32_t i) { return table ? table[i] : i; }

void tme_gather_axes_s8(const tme_gather_params *p, const int32_t *table0, const int32_t *table1,
                        const int32_t *table2, const int32_t *table3, const int8_t *in,
                        int8_t *out) {
  const int32_t *d = p->out_dims, *s = p->in_stride;
  for (int32_t i0 = 0; i0 < d[0]; ++i0) {
    const int8_t *a = in + axis_index(table0, i0) * s[0];
    for (int32_t i1 = 0; i1 < d[1]; ++i1) {
      const int8_t *b = a + axis_index(table1, i1) * s[1];
      for (int32_t i2 = 0; i2 < d[2]; ++i2) {
        const int8_t *c = b + axis_index(table2, i2) * s[2];
        if (table3 == NULL && s[3] == 1) {
          memcpy(out, c, (size_t)d[3]);
        } else {
          for (int32_t i3 = 0; i3 < d[3]; ++i3) out[i3] = c[axis_index(table3, i3) * s[3]];
        }
        out += d[3];
      }
    }
  }
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
