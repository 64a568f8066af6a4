/* Reductions as TFLite Micro's reference_ops::ReduceGeneric (max, min) and QuantizedMeanOrSum
 * (sum): each output element reduces its input elements in turn, so no scratch is needed (the
 * order does not change an int8 max or a wrapping int32 sum). */
#include "tme_reduce.h"

enum { kMax, kMin, kSum };

/* The int32 reduction of one output element's inputs, starting at `base`. */
static int32_t reduce_one(const tme_reduce_shape *p, const int8_t *in, int32_t base, int kind) {
  int32_t acc = kind == kMax ? TME_INT8_MIN : kind == kMin ? TME_INT8_MAX : 0;
  for (int32_t b0 = 0; b0 < p->reduced[0]; ++b0) {
    for (int32_t b1 = 0; b1 < p->reduced[1]; ++b1) {
      for (int32_t b2 = 0; b2 < p->reduced[2]; ++b2) {
        const int8_t *row = in + base + b0 * p->reduced_stride[0] + b1 * p->reduced_stride[1] +
                            b2 * p->reduced_stride[2];
        for (int32_t b3 = 0; b3 < p->reduced[3]; ++b3) {
          const int32_t v = row[b3 * p->reduced_stride[3]];
          if (kind == kMax) acc = v > acc ? v : acc;
          else if (kind == kMin) acc = v < acc ? v : acc;
          else acc = tme_add_wrap(acc, v);
        }
      }
    }
  }
  return acc;
}

/* Every output element in order (the kept axes' positions), reduced and finished. */
static void reduce_s8(const tme_reduce_shape *p, const int8_t *in, int8_t *out, int kind,
                      const tme_reduce_sum_params *sum) {
  /* the zero points' sum, as TFLM: an int64 product, the difference cut to int32 */
  const int64_t zero_sum = sum ? (int64_t)sum->in_zero_point * sum->count : 0;
  for (int32_t a0 = 0; a0 < p->kept[0]; ++a0) {
    for (int32_t a1 = 0; a1 < p->kept[1]; ++a1) {
      for (int32_t a2 = 0; a2 < p->kept[2]; ++a2) {
        for (int32_t a3 = 0; a3 < p->kept[3]; ++a3) {
          const int32_t base = a0 * p->kept_stride[0] + a1 * p->kept_stride[1] +
                               a2 * p->kept_stride[2] + a3 * p->kept_stride[3];
          const int32_t acc = reduce_one(p, in, base, kind);
          if (kind == kSum) {
            const int32_t shifted = (int32_t)(uint32_t)(uint64_t)((int64_t)acc - zero_sum);
            const int32_t y = tme_add_wrap(tme_requant(shifted, sum->mult, sum->shift),
                                           sum->out_zero_point);
            *out++ = tme_clamp_s8(y, TME_INT8_MIN, TME_INT8_MAX);
          } else {
            *out++ = (int8_t)acc;
          }
        }
      }
    }
  }
}

void tme_reduce_max_s8(const tme_reduce_shape *p, const int8_t *in, int8_t *out) {
  reduce_s8(p, in, out, kMax, NULL);
}

void tme_reduce_min_s8(const tme_reduce_shape *p, const int8_t *in, int8_t *out) {
  reduce_s8(p, in, out, kMin, NULL);
}

void tme_reduce_sum_s8(const tme_reduce_sum_params *p, const int8_t *in, int8_t *out) {
  reduce_s8(&p->shape, in, out, kSum, p);
}
