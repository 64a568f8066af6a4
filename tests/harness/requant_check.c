/* The requantizations of engine_c/include/tme_requant.h against TFLite Micro's reference form
 * (tme_requant: SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT), on every shift
 * from -31 to 31 and millions of accumulators: extremes, small values, random ones; with the
 * multipliers QuantizeMultiplier gives (0 with shift 0, else [2^30, 2^31)).
 *   tme_requant_pos         the branch-free form the vectorised kernels use
 *   tme_requant_pos_single  the single-rounding form of the DSP path (its C form here; the
 *                           Cortex-M build's SMLAL form runs on the emulator in test_kernels.py)
 *   tme_requant_right       the short form with the output offset inside (shifts -31..-2 as
 *                           s = -shift - 2, every output offset of int8)
 *   tme_requant_small       the SMMULR form of the ADD's rescalings (|x| < 2^30, shifts <= 0)
 * Built with -fsanitize=undefined: no undefined behaviour either. Exit status 1 on a mismatch. */
#include <stdio.h>

#include "tme_common.h"

static unsigned long long state = 88172645463325252ull;

static unsigned long long next(void) {  /* xorshift64 */
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

int main(void) {
  static const int32_t edges[] = {0, 1, -1, 2, -2, INT32_MAX, INT32_MIN, INT32_MAX - 1,
                                  INT32_MIN + 1, 1 << 30, -(1 << 30), 12345, -12345};
  const int n_edges = (int)(sizeof edges / sizeof edges[0]);
  long bad = 0, n = 0;
  for (int shift = -31; shift <= 31; ++shift) {
    for (int it = 0; it < 100000; ++it) {
      int32_t m = (int32_t)((1u << 30) | (uint32_t)(next() & 0x3FFFFFFFu));
      if (it % 7 == 0) m = (int32_t)(1u << 30);
      if (it % 11 == 0) m = INT32_MAX;
      if (it % 97 == 0 && shift == 0) m = 0;
      int32_t x = it < n_edges ? edges[it] : (int32_t)(uint32_t)next();
      if (it % 5 == 1) x = (int32_t)(next() % 2001) - 1000;
      if (it % 5 == 2) x = (int32_t)(next() % 200001) - 100000;
      const int32_t ref = tme_requant(x, m, shift);
      const int32_t pos = tme_requant_pos(x, m, shift);
      const int32_t single = tme_requant_pos_single(x, m, shift);
      const int32_t offset = (int32_t)(next() % 256) - 128;
      int right_ok = 1;
      if (shift <= -2 && m != 0)
        right_ok = tme_requant_right(x, m, -shift - 2, offset) == ref + offset;
      if (shift <= 0) {
        const int32_t small = x / 2;  /* |x / 2| < 2^30 */
        right_ok = right_ok && tme_requant_small(small, m, shift) == tme_requant(small, m, shift);
      }
      ++n;
      if (pos != ref || single != ref || !right_ok) {
        if (bad++ < 5)
          printf("x=%ld m=%ld shift=%d: reference %ld, pos %ld, single %ld\n", (long)x, (long)m,
                 shift, (long)ref, (long)pos, (long)single);
      }
    }
  }
  printf("%ld of %ld differ\n", bad, n);
  return bad != 0;
}
