/* Arm semihosting calls (operation numbers from the Arm semihosting specification). */
#include "tme_semihost.h"

#include "tme_cortexm.h"

enum {
  SYS_OPEN = 0x01,
  SYS_CLOSE = 0x02,
  SYS_WRITE0 = 0x04,
  SYS_WRITE = 0x05,
  SYS_READ = 0x06,
  SYS_SEEK = 0x0A,
  SYS_FLEN = 0x0C,
  SYS_GET_CMDLINE = 0x15,
  SYS_EXIT = 0x18,
};

enum { ADP_STOPPED_APPLICATION_EXIT = 0x20026, ADP_STOPPED_RUN_TIME_ERROR = 0x20023 };

static int semihost(int op, const void *arg) {
  register int r0 __asm("r0") = op;
  register const void *r1 __asm("r1") = arg;
  __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void tme_sh_puts(const char *s) { (void)semihost(SYS_WRITE0, s); }

void tme_sh_put_u32(uint32_t v) {
  char text[11];
  int i = 10;
  text[i] = '\0';
  do {
    text[--i] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v);
  tme_sh_puts(text + i);
}

int tme_sh_cmdline(char *buf, size_t size) {
  uint32_t block[2];
  block[0] = (uint32_t)(uintptr_t)buf;
  block[1] = (uint32_t)size;
  return semihost(SYS_GET_CMDLINE, block);
}

int tme_sh_open(const char *path, int mode) {
  uint32_t block[3];
  size_t len = 0;
  while (path[len]) ++len;
  block[0] = (uint32_t)(uintptr_t)path;
  block[1] = (uint32_t)mode;
  block[2] = (uint32_t)len;
  return semihost(SYS_OPEN, block);
}

int tme_sh_seek(int handle, uint32_t position) {
  uint32_t block[2];
  block[0] = (uint32_t)handle;
  block[1] = position;
  return semihost(SYS_SEEK, block) == 0 ? 0 : -1;
}

int tme_sh_flen(int handle) {
  uint32_t block[1];
  block[0] = (uint32_t)handle;
  return semihost(SYS_FLEN, block);
}

int tme_sh_read(int handle, void *buf, size_t n) {
  uint32_t block[3];
  block[0] = (uint32_t)handle;
  block[1] = (uint32_t)(uintptr_t)buf;
  block[2] = (uint32_t)n;
  return semihost(SYS_READ, block) == 0 ? 0 : -1; /* returns the bytes NOT read */
}

int tme_sh_write(int handle, const void *buf, size_t n) {
  uint32_t block[3];
  block[0] = (uint32_t)handle;
  block[1] = (uint32_t)(uintptr_t)buf;
  block[2] = (uint32_t)n;
  return semihost(SYS_WRITE, block) == 0 ? 0 : -1; /* returns the bytes NOT written */
}

int tme_sh_close(int handle) {
  uint32_t block[1];
  block[0] = (uint32_t)handle;
  return semihost(SYS_CLOSE, block);
}

void tme_sh_exit(int status) {
  /* AArch32: the argument is the reason code itself; QEMU exits with 0 for ApplicationExit
   * and 1 otherwise. */
  (void)semihost(SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                                  : ADP_STOPPED_RUN_TIME_ERROR));
  for (;;) {
  }
}

void tme_sh_bench_exit(uint32_t samples) {
  tme_sh_puts("tme-bench samples=");
  tme_sh_put_u32(samples);
  tme_sh_puts(" stack_peak=");
  tme_sh_put_u32(tme_stack_peak_bytes());
  tme_sh_puts(" stack_size=");
  tme_sh_put_u32(tme_stack_size_bytes());
  tme_sh_puts("\n");
  tme_sh_exit(0);
}
