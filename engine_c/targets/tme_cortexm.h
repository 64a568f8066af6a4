/* tflm-mcunet Cortex-M runtime support: reset, vector table, stack painting.
 *
 * The linker script (generated per device) defines the symbols used here:
 * __stack_bottom__/__stack_top__ (the stack, placed at the start of SRAM so that an overflow
 * faults instead of silently corrupting the arena), __data_load__/__data_start__/__data_end__
 * and __bss_start__/__bss_end__.
 */
#ifndef TME_CORTEXM_H
#define TME_CORTEXM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The word written over the unused stack at reset; the high-water mark is the lowest word
 * that no longer holds it. */
#define TME_STACK_PAINT 0xC5AC5ACEu

extern uint32_t __stack_bottom__[];
extern uint32_t __stack_top__[];

/* Bytes reserved for the stack by the linker script. */
uint32_t tme_stack_size_bytes(void);
/* Deepest stack use since reset (or the last tme_stack_paint), in bytes. Equal to
 * tme_stack_size_bytes() when the whole stack was used (a possible overflow). */
uint32_t tme_stack_peak_bytes(void);
/* Paints the stack below the caller's frame again (Reset_Handler does it once). */
void tme_stack_paint(void);

/* Called by Reset_Handler after .data/.bss are set up, before main (clocks, caches, UART).
 * The default does nothing; a board file overrides it. */
void tme_board_init(void);

#ifdef __cplusplus
}
#endif

#endif /* TME_CORTEXM_H */
