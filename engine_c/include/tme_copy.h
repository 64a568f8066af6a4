/* Data movement on int8 tensors: PAD, CONCATENATION, the region copies of the patch stage and of
 * SPLIT / SPLIT_V, strided and indexed copies (TRANSPOSE, SLICE, STRIDED_SLICE, SPACE_TO_DEPTH,
 * DEPTH_TO_SPACE, MIRROR_PAD, GATHER), and a streaming model's state (resource variables, ring
 * buffers). */
#ifndef TME_COPY_H
#define TME_COPY_H

#include "tme_common.h"

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

/* The output, in row-major order of dims[0..5], takes the input byte at
 * base + i0 * in_stride[0] + ... + i5 * in_stride[5]: TRANSPOSE (strides permuted), SLICE (a
 * base and smaller dims), SPACE_TO_DEPTH and DEPTH_TO_SPACE (the block split into axes of
 * their own). The innermost axis is copied a run at a time when its stride is 1. */
typedef struct {
  int32_t dims[6], in_stride[6];
  int32_t base;
} tme_strided_params;

void tme_strided_copy_s8(const tme_strided_params *p, const int8_t *in, int8_t *out);

/* The output, in row-major order of out_dims[0..3], takes the input element whose index along
 * axis k is table_k[i_k] (i_k itself where table_k is NULL), each index times in_stride[k]:
 * MIRROR_PAD (a table of reflected indices on each padded axis) and GATHER (the indices on the
 * gathered axis). */
typedef struct {
  int32_t out_dims[4], in_stride[4];
} tme_gather_params;

void tme_gather_axes_s8(const tme_gather_params *p, const int32_t *table0, const int32_t *table1,
                        const int32_t *table2, const int32_t *table3, const int8_t *in,
                        int8_t *out);

/* `n` bytes from src to dst (READ_VARIABLE, ASSIGN_VARIABLE: a state variable's bytes as they
 * are, as TFLite Micro copies them; the new frames appended to a ring buffer). */
void tme_copy_bytes(const void *src, void *dst, size_t n);

/* The end of an invoke of a ring buffer (a state kept as a sliding window): the window's
 * position moves on by `step` bytes; when the next window (`keep` + `step` bytes) would pass the
 * buffer's `capacity`, the `keep` bytes at the new position move to the buffer's start. */
void tme_ring_advance(int8_t *ring, int32_t *position, int32_t keep, int32_t step,
                      int32_t capacity);

#endif /* TME_COPY_H */
