// TensorFlow Lite Micro's benchmark firmware for QEMU (semihosting): benchmarks/mcu_tflm.py
// builds it with the model's flatbuffer (model_weights.c), TME_TFLM_ARENA_BYTES, and
// tme_tflm_ops.h, which defines TME_TFLM_NUM_OPS and TME_TFLM_ADD_OPS(resolver) for the model.
#include <cstddef>
#include <cstdint>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tme_tflm_ops.h"

extern "C" {
#include "tme_bench.h"
#include "tme_cortexm.h"
#include "tme_semihost.h"
extern const unsigned char tme_tflm_model[];
volatile uint32_t tme_bench_marker;
__attribute__((noipa)) void tme_bench_begin(void) { tme_bench_marker = 0x600du; }
__attribute__((noipa)) void tme_bench_end(void) { tme_bench_marker = 0xe0du; }
void __cxa_pure_virtual(void) { tme_sh_exit(1); }
int __aeabi_atexit(void *, void (*)(void *), void *) { return 0; }
int __cxa_atexit(void (*)(void *), void *, void *) { return 0; }
void *__dso_handle = nullptr;
}
void operator delete(void *) noexcept {}
void operator delete(void *, std::size_t) noexcept {}

alignas(16) static uint8_t arena[TME_TFLM_ARENA_BYTES];
static char cmdline[512];

static void fail(const char *what) {
  tme_sh_puts("tme-bench error: ");
  tme_sh_puts(what);
  tme_sh_puts("\n");
  tme_sh_exit(1);
}

int main(void) {
  static tflite::MicroMutableOpResolver<TME_TFLM_NUM_OPS> resolver;
  TME_TFLM_ADD_OPS(resolver);
  static tflite::MicroInterpreter interpreter(tflite::GetModel(tme_tflm_model), resolver, arena,
                                              sizeof arena);
  if (interpreter.AllocateTensors() != kTfLiteOk) fail("AllocateTensors failed");
  char *argv[4] = {nullptr, nullptr, nullptr, nullptr};
  int argc = 0;
  if (tme_sh_cmdline(cmdline, sizeof cmdline) != 0) fail("no command line");
  for (char *p = cmdline; *p && argc < 4;) {
    while (*p == ' ') *p++ = '\0';
    if (!*p) break;
    argv[argc++] = p;
    while (*p && *p != ' ') ++p;
  }
  if (argc < 3) fail("usage: <program> <input file> <output file>");
  uint32_t sample_bytes = 0;
  for (size_t i = 0; i < interpreter.inputs_size(); ++i)
    sample_bytes += interpreter.input(i)->bytes;
  int in = tme_sh_open(argv[1], 1), out = tme_sh_open(argv[2], 5);
  if (in < 0 || out < 0) fail("cannot open the input or output file");
  int len = tme_sh_flen(in);
  if (len <= 0 || sample_bytes == 0 || (uint32_t)len % sample_bytes) fail("bad input file size");
  uint32_t samples = (uint32_t)len / sample_bytes;
  tme_bench_begin();
  tme_bench_end();
  for (uint32_t s = 0; s < samples; ++s) {
    for (size_t i = 0; i < interpreter.inputs_size(); ++i)
      if (tme_sh_read(in, interpreter.input(i)->data.raw, interpreter.input(i)->bytes))
        fail("read");
    tme_bench_begin();
    TfLiteStatus status = interpreter.Invoke();
    tme_bench_end();
    if (status != kTfLiteOk) fail("Invoke failed");
    for (size_t i = 0; i < interpreter.outputs_size(); ++i)
      if (tme_sh_write(out, interpreter.output(i)->data.raw, interpreter.output(i)->bytes))
        fail("write");
  }
  tme_sh_close(in);
  tme_sh_close(out);
  tme_sh_puts("tflm arena_used=");
  tme_sh_put_u32((uint32_t)interpreter.arena_used_bytes());
  tme_sh_puts("\n");
  tme_sh_bench_exit(samples);
}
