/* Benchmark firmware for QEMU (mps2-an500, Cortex-M7) with semihosting.
 *
 * Command line (semihosting): <program> <input file> <output file>. The input file holds N
 * samples, each the bytes of every model input in order; for each sample the firmware loads
 * it, runs the model between the benchmark markers and appends every output's bytes to the
 * output file. A model with a streamed input reads each region it asks for from the input
 * file, row by row, so the image is never whole in SRAM. It then prints one line
 *   tme-bench samples=N stack_peak=BYTES stack_size=BYTES
 * and exits with status 0 (1 on any error or fault, after a line starting "tme-bench error").
 */
#include <stddef.h>
#include <stdint.h>

#include "tme_bench.h"
#include "tme_cortexm.h"
#include "tme_semihost.h"
#include "tme_target_model.h"

volatile uint32_t tme_bench_marker;

/* noipa: never inlined, cloned or merged with another function; the bodies differ too. */
__attribute__((noipa)) void tme_bench_begin(void) { tme_bench_marker = 0x600du; }
__attribute__((noipa)) void tme_bench_end(void) { tme_bench_marker = 0xe0du; }

static void fail(const char *what) {
  tme_sh_puts("tme-bench error: ");
  tme_sh_puts(what);
  tme_sh_puts("\n");
  tme_sh_exit(1);
}

void HardFault_Handler(void) { fail("hard fault"); }
void MemManage_Handler(void) { fail("memory management fault"); }
void BusFault_Handler(void) { fail("bus fault"); }
void UsageFault_Handler(void) { fail("usage fault"); }

/* Splits the command line in place; returns the number of words. */
static int split(char *line, char **words, int max) {
  int n = 0;
  while (*line && n < max) {
    while (*line == ' ') *line++ = '\0';
    if (!*line) break;
    words[n++] = line;
    while (*line && *line != ' ') ++line;
  }
  while (*line == ' ') *line++ = '\0';
  return n;
}

#ifdef TME_MODEL_STREAMED
static int stream_file;
static uint32_t stream_sample; /* the file offset of the sample being run */

static void read_bytes(uint32_t at, int8_t *dst, uint32_t n) {
  if (tme_sh_seek(stream_file, stream_sample + at) != 0 || tme_sh_read(stream_file, dst, n) != 0)
    fail("cannot read a region of the streamed input");
}

/* The streamed input's reader: the region of the sample's image, from the input file. */
static void read_region(int32_t row, int32_t col, int32_t rows, int32_t cols, int8_t *dst) {
  tme_bench_region(row, col, rows, cols, dst, (uint32_t)TME_MODEL_INPUT_INFO[0].dims[2],
                   (uint32_t)TME_MODEL_INPUT_INFO[0].dims[3], read_bytes);
}
#endif

static char cmdline[512];

int main(void) {
  char *argv[4];
  uint32_t sample_bytes = 0, samples, s;
  int in, out, len, i;
  if (tme_sh_cmdline(cmdline, sizeof cmdline) != 0) fail("no command line");
  if (split(cmdline, argv, 4) < 3) fail("usage: <program> <input file> <output file>");
  for (i = 0; i < TME_MODEL_NUM_INPUTS; ++i) sample_bytes += TME_MODEL_INPUT_INFO[i].bytes;
  in = tme_sh_open(argv[1], 1);
  if (in < 0) fail("cannot open the input file");
  len = tme_sh_flen(in);
  if (len <= 0 || sample_bytes == 0 || (uint32_t)len % sample_bytes != 0)
    fail("the input file size is not a multiple of the model's input bytes");
  samples = (uint32_t)len / sample_bytes;
  out = tme_sh_open(argv[2], 5);
  if (out < 0) fail("cannot open the output file");

  tme_bench_begin(); /* calibration: the count of an empty pair */
  tme_bench_end();
  for (s = 0; s < samples; ++s) {
#ifdef TME_MODEL_STREAMED
    stream_file = in;
    stream_sample = s * sample_bytes;
    tme_bench_begin();
    (void)TME_MODEL_INVOKE_STREAMED(read_region);
    tme_bench_end();
#else
    for (i = 0; i < TME_MODEL_NUM_INPUTS; ++i)
      if (tme_sh_read(in, TME_MODEL_INPUT(i), TME_MODEL_INPUT_INFO[i].bytes) != 0)
        fail("short read");
    tme_bench_begin();
    (void)TME_MODEL_INVOKE();
    tme_bench_end();
#endif
    for (i = 0; i < TME_MODEL_NUM_OUTPUTS; ++i)
      if (tme_sh_write(out, TME_MODEL_OUTPUT(i), TME_MODEL_OUTPUT_INFO[i].bytes) != 0)
        fail("short write");
  }
  (void)tme_sh_close(in);
  (void)tme_sh_close(out);
  tme_sh_bench_exit(samples);
}
