/* Benchmark markers. The instruction-counting QEMU plugin (benchmarks/qemu_plugin) counts the
 * instructions executed from the first instruction of tme_bench_begin to the first
 * instruction of tme_bench_end; the firmware calls the pair once empty (calibration) and then
 * around every invoke, so invoke's count is the difference. On a board the same markers read
 * the DWT cycle counter. */
#ifndef TME_BENCH_H
#define TME_BENCH_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

void tme_bench_begin(void);
void tme_bench_end(void);

/* A region a model with a streamed input asks for: rows [row, row + rows) x columns
 * [col, col + cols) of its NHWC image (`width` pixels of `channels` bytes a row), row by row:
 * copy(at, dst, n) copies the n bytes at byte `at` of the image. */
static inline void tme_bench_region(int32_t row, int32_t col, int32_t rows, int32_t cols,
                                    int8_t *dst, uint32_t width, uint32_t channels,
                                    void (*copy)(uint32_t at, int8_t *dst, uint32_t n)) {
  const uint32_t run = (uint32_t)cols * channels;
  for (int32_t r = 0; r < rows; ++r)
    copy(((uint32_t)(row + r) * width + (uint32_t)col) * channels, dst + (uint32_t)r * run,
         run);
}

#ifdef __cplusplus
}
#endif

#endif /* TME_BENCH_H */
