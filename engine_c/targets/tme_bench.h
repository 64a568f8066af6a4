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

#ifdef __cplusplus
}
#endif

#endif /* TME_BENCH_H */
