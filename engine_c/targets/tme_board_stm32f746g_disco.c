/* Benchmark firmware for the STM32F746G-DISCO board (STM32F746NG, Cortex-M7).
 *
 * tme_board_init (run by Reset_Handler) sets the core clock to 216 MHz (PLL from the 16 MHz
 * HSI: M=16, N=432, P=2; voltage scale 1 with over-drive, 7 Flash wait states, ART and
 * prefetch on; AHB 216, APB1 54, APB2 108 MHz), enables the L1 instruction and data caches
 * and USART1 at 115200 8N1 (PA9 TX, PB7 RX: the ST-LINK virtual COM port).
 * Define TME_BOARD_KEEP_HSI to stay at 16 MHz with no wait states and no caches.
 *
 * main loads the benchmark input (tme_board_input.c), runs the model between the benchmark
 * markers, which read the DWT cycle counter, and prints over the UART, about once a second,
 * forever:
 *   tme-board cycles=N calibration=N stack_peak=BYTES stack_size=BYTES clock_hz=HZ
 *   tme-board output0=<hex bytes>
 *   tme-board done
 * Registers are addressed directly (RM0385, Armv7-M ARM): no vendor headers are needed.
 */
#include <stddef.h>
#include <stdint.h>

#include "tme_bench.h"
#include "tme_cortexm.h"
#include "tme_target_model.h"

#define REG(addr) (*(volatile uint32_t *)(addr))

/* RCC, PWR, FLASH, GPIO, USART1 (STM32F74x) */
#define RCC_CR REG(0x40023800u)
#define RCC_PLLCFGR REG(0x40023804u)
#define RCC_CFGR REG(0x40023808u)
#define RCC_AHB1ENR REG(0x40023830u)
#define RCC_APB1ENR REG(0x40023840u)
#define RCC_APB2ENR REG(0x40023844u)
#define PWR_CR1 REG(0x40007000u)
#define PWR_CSR1 REG(0x40007004u)
#define FLASH_ACR REG(0x40023C00u)
#define GPIOA_MODER REG(0x40020000u)
#define GPIOA_OSPEEDR REG(0x40020008u)
#define GPIOA_AFRH REG(0x40020024u)
#define USART1_CR1 REG(0x40011000u)
#define USART1_BRR REG(0x4001100Cu)
#define USART1_ISR REG(0x4001101Cu)
#define USART1_TDR REG(0x40011028u)

/* System control block, cache maintenance, debug (Armv7-M) */
#define SCB_CCR REG(0xE000ED14u)
#define SCB_CCSIDR REG(0xE000ED80u)
#define SCB_CSSELR REG(0xE000ED84u)
#define SCB_ICIALLU REG(0xE000EF50u)
#define SCB_DCISW REG(0xE000EF60u)
#define DEMCR REG(0xE000EDFCu)
#define DWT_CTRL REG(0xE0001000u)
#define DWT_CYCCNT REG(0xE0001004u)
#define DWT_LAR REG(0xE0001FB0u)

#ifdef TME_BOARD_KEEP_HSI
#define CORE_HZ 16000000u
#define APB2_HZ 16000000u
#else
#define CORE_HZ 216000000u
#define APB2_HZ 108000000u
#endif

static void barrier(void) { __asm volatile("dsb 0xF\n\tisb 0xF" ::: "memory"); }

static void clock_216mhz(void) {
  RCC_APB1ENR |= 1u << 28; /* PWREN */
  (void)RCC_APB1ENR;
  PWR_CR1 = (PWR_CR1 & ~(3u << 14)) | (3u << 14); /* VOS: scale 1 */
  /* PLL from HSI (PLLSRC = 0): 16 MHz / M 16 * N 432 / P 2 = 216 MHz; Q 9 (48 MHz domain) */
  RCC_CR &= ~(1u << 24); /* PLL off while configuring it */
  while (RCC_CR & (1u << 25)) {
  }
  RCC_PLLCFGR = 16u | (432u << 6) | (0u << 16) | (0u << 22) | (9u << 24);
  RCC_CR |= 1u << 24; /* PLLON */
  while (!(RCC_CR & (1u << 25))) { /* PLLRDY */
  }
  PWR_CR1 |= 1u << 16; /* ODEN: over-drive, needed above 180 MHz */
  while (!(PWR_CSR1 & (1u << 16))) { /* ODRDY */
  }
  PWR_CR1 |= 1u << 17; /* ODSWEN */
  while (!(PWR_CSR1 & (1u << 17))) { /* ODSWRDY */
  }
  FLASH_ACR = 7u | (1u << 8) | (1u << 9); /* 7 wait states, prefetch, ART accelerator */
  while ((FLASH_ACR & 0xFu) != 7u) {
  }
  /* HPRE /1, PPRE1 /4 (101), PPRE2 /2 (100), then SW = PLL (10) */
  RCC_CFGR = (RCC_CFGR & ~((0xFu << 4) | (7u << 10) | (7u << 13))) | (5u << 10) | (4u << 13);
  RCC_CFGR = (RCC_CFGR & ~3u) | 2u;
  while (((RCC_CFGR >> 2) & 3u) != 2u) { /* SWS = PLL */
  }
}

static void caches_on(void) {
  uint32_t ccsidr, sets, ways, set, way;
  barrier();
  SCB_ICIALLU = 0u; /* invalidate the instruction cache */
  barrier();
  SCB_CCR |= 1u << 17; /* IC */
  barrier();
  SCB_CSSELR = 0u; /* level 1 data cache */
  barrier();
  ccsidr = SCB_CCSIDR;
  sets = ((ccsidr >> 13) & 0x7FFFu) + 1u;
  ways = ((ccsidr >> 3) & 0x3FFu) + 1u;
  for (set = 0; set < sets; ++set)
    for (way = 0; way < ways; ++way) /* DCISW: 32-byte lines (set << 5), 4 ways (way << 30) */
      SCB_DCISW = (set << 5) | (way << 30);
  barrier();
  SCB_CCR |= 1u << 16; /* DC */
  barrier();
}

static void uart_init(void) {
  RCC_AHB1ENR |= 1u << 0; /* GPIOA */
  RCC_APB2ENR |= 1u << 4; /* USART1 */
  (void)RCC_APB2ENR;
  GPIOA_MODER = (GPIOA_MODER & ~(3u << 18)) | (2u << 18);       /* PA9: alternate function */
  GPIOA_OSPEEDR |= 2u << 18;                                    /* high speed */
  GPIOA_AFRH = (GPIOA_AFRH & ~(0xFu << 4)) | (7u << 4);         /* AF7: USART1_TX */
  USART1_CR1 = 0u;
  USART1_BRR = (APB2_HZ + 115200u / 2u) / 115200u; /* oversampling by 16 */
  USART1_CR1 = (1u << 3) | (1u << 0);             /* TE, UE */
}

static void uart_putc(char c) {
  while (!(USART1_ISR & (1u << 7))) { /* TXE */
  }
  USART1_TDR = (uint32_t)(uint8_t)c;
}

static void uart_puts(const char *s) {
  while (*s) uart_putc(*s++);
}

static void uart_put_u32(uint32_t v) {
  char text[11];
  int i = 10;
  text[i] = '\0';
  do {
    text[--i] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v);
  uart_puts(text + i);
}

void tme_board_init(void) {
#ifndef TME_BOARD_KEEP_HSI
  clock_216mhz();
  caches_on();
#endif
  uart_init();
  DEMCR |= 1u << 24;      /* TRCENA */
  DWT_LAR = 0xC5ACCE55u;  /* unlock the DWT (Cortex-M7) */
  DWT_CYCCNT = 0u;
  DWT_CTRL |= 1u;         /* CYCCNTENA */
}

/* The sample to run (tme_board_input.c: the converter writes an empty one, meaning zeros; the
 * benchmark links its own). */
extern const uint8_t tme_board_input[];
extern const uint32_t tme_board_input_bytes;

static volatile uint32_t cycles_begin, cycles_end;

__attribute__((noipa)) void tme_bench_begin(void) { cycles_begin = DWT_CYCCNT; }
__attribute__((noipa)) void tme_bench_end(void) { cycles_end = DWT_CYCCNT; }

static void fault(const char *what) {
  for (;;) {
    uart_puts("tme-board error: ");
    uart_puts(what);
    uart_puts("\r\n");
    for (volatile uint32_t i = 0; i < CORE_HZ / 8u; ++i) {
    }
  }
}

void HardFault_Handler(void) { fault("hard fault"); }
void MemManage_Handler(void) { fault("memory management fault"); }
void BusFault_Handler(void) { fault("bus fault"); }
void UsageFault_Handler(void) { fault("usage fault"); }

/* n bytes of the sample from byte `at` on (zeros past its end). */
static void copy_input(uint32_t at, int8_t *dst, uint32_t n) {
  for (uint32_t k = 0; k < n; ++k)
    dst[k] = (int8_t)(at + k < tme_board_input_bytes ? tme_board_input[at + k] : 0u);
}

#ifdef TME_MODEL_STREAMED
/* The streamed input's reader: a region of the sample in Flash (zeros past its end), as a
 * camera or a file would hand it over. */
static void read_region(int32_t row, int32_t col, int32_t rows, int32_t cols, int8_t *dst) {
  tme_bench_region(row, col, rows, cols, dst, (uint32_t)TME_MODEL_INPUT_INFO[0].dims[2],
                   (uint32_t)TME_MODEL_INPUT_INFO[0].dims[3], copy_input);
}
#endif

int main(void) {
  static const char hex[] = "0123456789abcdef";
  uint32_t calibration, cycles;
  int i;
#ifndef TME_MODEL_STREAMED
  uint32_t offset = 0;
  for (i = 0; i < TME_MODEL_NUM_INPUTS; ++i) {
    copy_input(offset, (int8_t *)TME_MODEL_INPUT(i), TME_MODEL_INPUT_INFO[i].bytes);
    offset += TME_MODEL_INPUT_INFO[i].bytes;
  }
#endif
  tme_bench_begin();
  tme_bench_end();
  calibration = cycles_end - cycles_begin;
  tme_bench_begin();
#ifdef TME_MODEL_STREAMED
  (void)TME_MODEL_INVOKE_STREAMED(read_region);
#else
  (void)TME_MODEL_INVOKE();
#endif
  tme_bench_end();
  cycles = cycles_end - cycles_begin - calibration;
  for (;;) {
    uart_puts("tme-board cycles=");
    uart_put_u32(cycles);
    uart_puts(" calibration=");
    uart_put_u32(calibration);
    uart_puts(" stack_peak=");
    uart_put_u32(tme_stack_peak_bytes());
    uart_puts(" stack_size=");
    uart_put_u32(tme_stack_size_bytes());
    uart_puts(" clock_hz=");
    uart_put_u32(CORE_HZ);
    uart_puts("\r\n");
    for (i = 0; i < TME_MODEL_NUM_OUTPUTS; ++i) {
      const uint8_t *y = (const uint8_t *)TME_MODEL_OUTPUT(i);
      uint32_t k;
      uart_puts("tme-board output");
      uart_put_u32((uint32_t)i);
      uart_putc('=');
      for (k = 0; k < TME_MODEL_OUTPUT_INFO[i].bytes; ++k) {
        uart_putc(hex[y[k] >> 4]);
        uart_putc(hex[y[k] & 15u]);
      }
      uart_puts("\r\n");
    }
    uart_puts("tme-board done\r\n");
    for (volatile uint32_t k = 0; k < CORE_HZ / 8u; ++k) {
    }
  }
}
