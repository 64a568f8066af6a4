/* Arm semihosting (BKPT 0xAB on M-profile): console, files and exit through the debugger or
 * the emulator (QEMU: -semihosting-config enable=on,target=native). On a board without a
 * debugger attached these calls fault: use them for emulation only. */
#ifndef TME_SEMIHOST_H
#define TME_SEMIHOST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Writes a NUL-terminated string to the host console. */
void tme_sh_puts(const char *s);
/* Writes the decimal value of `v` to the host console. */
void tme_sh_put_u32(uint32_t v);
/* The command line (QEMU: the semihosting-config arg= values, joined by spaces); 0 on success. */
int tme_sh_cmdline(char *buf, size_t size);
/* mode: 1 = "rb", 5 = "wb" (ISO C fopen modes as numbered by the semihosting spec). Returns a
 * handle, or -1. */
int tme_sh_open(const char *path, int mode);
/* Moves the file position to byte `position` from the start; 0 on success. */
int tme_sh_seek(int handle, uint32_t position);
/* Length of an open file in bytes, or -1. */
int tme_sh_flen(int handle);
/* Reads/writes exactly `n` bytes; 0 on success. */
int tme_sh_read(int handle, void *buf, size_t n);
int tme_sh_write(int handle, const void *buf, size_t n);
int tme_sh_close(int handle);
/* Stops the program: status 0 is a normal exit, anything else an error. */
void tme_sh_exit(int status) __attribute__((noreturn));
/* Ends a benchmark firmware (ours or TFLite Micro's): prints the line the benchmarks read,
 * "tme-bench samples=N stack_peak=B stack_size=B", and exits normally. */
void tme_sh_bench_exit(uint32_t samples) __attribute__((noreturn));

#ifdef __cplusplus
}
#endif

#endif /* TME_SEMIHOST_H */
