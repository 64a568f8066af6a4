/* tflm-mcunet Cortex-M startup: vector table, Reset_Handler, stack painting.
 *
 * Minimal and self-contained (no crt0 is linked: newlib's rdimon crt0 moves the stack
 * pointer). Reset_Handler enables the FPU when the code is built for one, copies .data from
 * Flash, zeroes .bss, paints the stack, runs the board hook and the static constructors (C++),
 * and calls main. Exception
 * handlers are weak: an application or a board file may define its own.
 */
#include "tme_cortexm.h"

extern uint32_t __data_load__[];
extern uint32_t __data_start__[];
extern uint32_t __data_end__[];
extern uint32_t __bss_start__[];
extern uint32_t __bss_end__[];
/* C++ (the TFLite Micro firmware): constructors of static objects */
extern void (*__init_array_start__[])(void);
extern void (*__init_array_end__[])(void);

int main(void);
void Reset_Handler(void);
void tme_default_handler(void);

#define TME_WEAK_DEFAULT __attribute__((weak, alias("tme_default_handler")))
void NMI_Handler(void) TME_WEAK_DEFAULT;
void HardFault_Handler(void) TME_WEAK_DEFAULT;
void MemManage_Handler(void) TME_WEAK_DEFAULT;
void BusFault_Handler(void) TME_WEAK_DEFAULT;
void UsageFault_Handler(void) TME_WEAK_DEFAULT;
void SVC_Handler(void) TME_WEAK_DEFAULT;
void DebugMon_Handler(void) TME_WEAK_DEFAULT;
void PendSV_Handler(void) TME_WEAK_DEFAULT;
void SysTick_Handler(void) TME_WEAK_DEFAULT;

/* The architectural part of the vector table: initial stack pointer and the 15 system
 * exceptions. No peripheral interrupt is enabled by this runtime. */
typedef struct {
  uint32_t *initial_sp;
  void (*handlers[15])(void);
} tme_vector_table;

__attribute__((section(".isr_vector"), used)) const tme_vector_table tme_vectors = {
  __stack_top__,
  {
    Reset_Handler, NMI_Handler, HardFault_Handler, MemManage_Handler, BusFault_Handler,
    UsageFault_Handler, 0, 0, 0, 0, SVC_Handler, DebugMon_Handler, 0, PendSV_Handler,
    SysTick_Handler,
  },
};

void tme_default_handler(void) {
  for (;;) {
  }
}

__attribute__((weak)) void tme_board_init(void) {}

__attribute__((noinline)) void tme_stack_paint(void) {
  uint32_t *sp;
  volatile uint32_t *p;
  __asm volatile("mov %0, sp" : "=r"(sp));
  /* Everything below the stack pointer is unused: no interrupt is enabled. */
  for (p = __stack_bottom__; p < (volatile uint32_t *)sp; ++p) *p = TME_STACK_PAINT;
}

uint32_t tme_stack_size_bytes(void) {
  return (uint32_t)((uintptr_t)__stack_top__ - (uintptr_t)__stack_bottom__);
}

uint32_t tme_stack_peak_bytes(void) {
  const volatile uint32_t *p = __stack_bottom__;
  while (p < (const volatile uint32_t *)__stack_top__ && *p == TME_STACK_PAINT) ++p;
  return (uint32_t)((uintptr_t)__stack_top__ - (uintptr_t)p);
}

void Reset_Handler(void) {
  volatile uint32_t *dst;
  const volatile uint32_t *src;
#if defined(__ARM_FP)
  /* CPACR: full access to CP10 and CP11 before any floating-point instruction runs. */
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm volatile("dsb\n\tisb" ::: "memory");
#endif
  /* volatile: the compiler must not turn these loops into memcpy/memset calls */
  for (dst = __data_start__, src = __data_load__; dst < (volatile uint32_t *)__data_end__;)
    *dst++ = *src++;
  for (dst = __bss_start__; dst < (volatile uint32_t *)__bss_end__;) *dst++ = 0;
  tme_stack_paint();
  tme_board_init();
  {
    void (**ctor)(void);
    for (ctor = __init_array_start__; ctor < __init_array_end__; ++ctor) (*ctor)();
  }
  (void)main();
  for (;;) {
    __asm volatile("wfi");
  }
}
