/* Benchmark harness for the host (benchmarks/host.py): a generated model (prefix `model`)
 * linked with this file.
 *
 *   bench run INPUT OUTPUT        for every sample of INPUT (the bytes of every model input,
 *                                 in order), invoke and append every output's bytes to OUTPUT
 *   bench time INPUT SECONDS      invoke on the first sample of INPUT, first to warm up, then
 *                                 in rounds of at least a millisecond for about SECONDS; print
 *                                 "tme-host-bench ns=<per-invoke nanoseconds of each round>"
 *   bench once INPUT              one invoke on the first sample (for callgrind, counting the
 *                                 instructions of model_invoke)
 */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static size_t sample_bytes(void) {
  size_t n = 0;
  for (int i = 0; i < MODEL_NUM_INPUTS; ++i) n += model_input_info[i].bytes;
  return n;
}

/* Copy one sample's bytes into the model inputs. */
static void load(const uint8_t *sample) {
  for (int i = 0; i < MODEL_NUM_INPUTS; ++i) {
    memcpy(model_input(i), sample, model_input_info[i].bytes);
    sample += model_input_info[i].bytes;
  }
}

static uint8_t *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *data = malloc(len > 0 ? (size_t)len : 1);
  if (data && fread(data, 1, (size_t)len, f) != (size_t)len) {
    free(data);
    data = NULL;
  }
  fclose(f);
  *size = (size_t)len;
  return data;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s run|time|once INPUT [OUTPUT|SECONDS]\n", argv[0]);
    return 2;
  }
  size_t size, per = sample_bytes();
  uint8_t *input = read_file(argv[2], &size);
  if (!input || per == 0 || size < per || size % per) {
    fprintf(stderr, "tme-host-bench: %s does not hold whole samples of %zu bytes\n", argv[2], per);
    return 1;
  }
  if (strcmp(argv[1], "run") == 0 && argc == 4) {
    FILE *out = fopen(argv[3], "wb");
    if (!out) return 1;
    for (size_t s = 0; s < size / per; ++s) {
      load(input + s * per);
      if (model_invoke() != 0) return 1;
      for (int i = 0; i < MODEL_NUM_OUTPUTS; ++i)
        fwrite(model_output(i), 1, model_output_info[i].bytes, out);
    }
    fclose(out);
  } else if (strcmp(argv[1], "time") == 0 && argc == 4) {
    const double budget = atof(argv[3]) * 1e9;
    load(input);
    /* warm up (caches, branch predictors, clock) and size a round to >= 1 ms */
    long reps = 1;
    for (;;) {
      const double t0 = now_ns();
      for (long i = 0; i < reps; ++i) model_invoke();
      const double dt = now_ns() - t0;
      if (dt >= 1e6) break;
      reps *= 2;
    }
    printf("tme-host-bench ns=");
    const double start = now_ns();
    int rounds = 0;
    while (rounds < 5 || (now_ns() - start < budget && rounds < 1000)) {
      const double t0 = now_ns();
      for (long i = 0; i < reps; ++i) model_invoke();
      printf("%s%.1f", rounds ? "," : "", (now_ns() - t0) / (double)reps);
      ++rounds;
    }
    printf("\n");
  } else if (strcmp(argv[1], "once") == 0) {
    load(input);
    model_invoke();
  } else {
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  free(input);
  return 0;
}
