/* Test harness for a generated project: reads samples from stdin, writes outputs to stdout.
 *
 * A sample is the bytes of every model input, in order (model_input_info[i].bytes each); for
 * every whole sample the harness invokes the model and writes the bytes of every output, in
 * order. It stops at the end of the input. Built with -fsanitize=address,undefined by
 * tests/sanitize.py: any report aborts with a non-zero exit status.
 *
 * Exit status: 0 after at least one sample, 2 on a partial sample, 3 if invoke fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static int read_exact(unsigned char *dst, size_t n) {
  size_t got = 0;
  while (got < n) {
    const size_t r = fread(dst + got, 1, n - got, stdin);
    if (r == 0) break;
    got += r;
  }
  return got == n ? 1 : (got == 0 ? 0 : -1);
}

int main(void) {
  long samples = 0;
  for (;;) {
    int i;
    for (i = 0; i < MODEL_NUM_INPUTS; ++i) {
      /* read into a buffer of exactly the input's size, then copy: an input size that does
       * not match the arena slot shows up as an ASan report, not as silent corruption */
      const size_t n = model_input_info[i].bytes;
      unsigned char *buf = (unsigned char *)malloc(n ? n : 1);
      int r;
      if (!buf) return 4;
      r = read_exact(buf, n);
      if (r <= 0) {
        free(buf);
        if (r == 0 && i == 0) return samples > 0 ? 0 : 2;
        return 2;
      }
      memcpy(model_input(i), buf, n);
      free(buf);
    }
    if (model_invoke() != 0) return 3;
    for (i = 0; i < MODEL_NUM_OUTPUTS; ++i) {
      if (fwrite(model_output(i), 1, model_output_info[i].bytes, stdout) !=
          model_output_info[i].bytes)
        return 5;
    }
    ++samples;
  }
}
