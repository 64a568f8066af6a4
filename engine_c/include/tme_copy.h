/* Data movement: PAD, CONCATENATION, STRIDED_SLICE, SPLIT / SPLIT_V, the resource-variable copies
 * and the region copies of the patch stage, on int8 tensors. */
#ifndef TME_COPY_H
#define TME_COPY_H

#include "tme_common.h"

/* The end of an invoke of a ring buffer (a state kept as a sliding window): the window's
 * position moves on by `step` bytes; when the next window (`keep` + `step` bytes) would pass the
 * buffer's `capacity`, the `keep` bytes at the new position move to the buffer's start. */
void tme_ring_advance(int8_t *ring, int32_t *position, int32_t keep, int32_t step,
                      int32_t capacity);

typedef struct {
  int32_t in_dims[4];
  int32_t before[4], after[4];
  int32_t pad_value;
} tme_pad_params;

void tme_pad_s8(const tme_pad_params *p, const int8_t *in, int8_t *out);

/* Concatenates `count` inputs along one axis: `outer` blocks, input i contributing
 * chunk[i] bytes to each block. */
void tme_concat_s8(int32_t count, int32_t outer, const int32_t *chunk, const int8_t *const *in,
                   int8_t *out);

/* A rectangle of an NHWC tensor: `rows` runs of `run` bytes (columns x channels), read
 * `src_stride` bytes apart and written `dst_stride` bytes apart. The patch stage gathers a
 * patch's input region with it, crops a skip tensor to a residual's region, scatters a
 * patch's output into the whole stage output, and moves the rows a row band keeps to the top
 * of their buffer (one run that may overlap itself). */
typedef struct {
  int32_t rows, run, src_stride, dst_stride;
} tme_region_params;

void tme_copy_region_s8(const tme_region_params *p, const int8_t *src, int8_t *dst);

/* `n` bytes from src to dst (READ_VARIABLE, ASSIGN_VARIABLE: a state variable's bytes as they
 * are, as TFLite Micro copies them). */
void tme_copy_bytes(const void *src, void *dst, size_t n);

/* STRIDED_SLICE on up to 4 dimensions (leading dimensions of size 1 fill the shorter ranks):
 * output element (i0..i3) = input element (start[k] + i_k * stride[k]), written in order. */
/* The end of an invoke of a ring buffer (a state kept as a sliding window): the window's
 * position moves on by `step` bytes; when the next window (`keep` + `step` bytes) would pass the
 * buffer's `capacity`, the `keep` bytes at the new position move to the buffer's start. */
void tme_ring_advance(int8_t *ring, int32_t *position, int32_t keep, int32_t step,
                      int32_t capacity);

typedef struct {
  int32_t in_dims[4];
  int32_t out_dims[4];
  int32_t start[4];
  int32_t stride[4];
} tme_slice_params;

void tme_strided_slice_s8(const tme_slice_params *p, const int8_t *in, int8_t *out);

#endif /* TME_COPY_H */
