/* The planner's placement trials, compiled (converter/placement.py loads it with ctypes).

   placement.place in Python is the reference: for each trial (an order of the buffers and an
   offset rule) every buffer, in order, takes the best of its candidate offsets that is valid
   against the placed buffers live at the same time. The same candidates, the same validity
   test and the same key as there, ties included, so that both give the same offsets.

   Buffer pairs that may share bytes come as a list: pair k lets buffer out[k] be placed over
   buffer in[k] (`slack`, when kind[k] & 1), or makes out[k] start exactly at in[k]
   (kind[k] & 2: an in-place kernel). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int64_t floor_div(int64_t n, int64_t d) { return n >= 0 ? n / d : -((-n + d - 1) / d); }
static int64_t align_down(int64_t n, int64_t a) { return floor_div(n, a) * a; }
static int64_t align_up(int64_t n, int64_t a) { return -floor_div(-n, a) * a; }
static int64_t abs64(int64_t n) { return n < 0 ? -n : n; }

/* What the buffer being placed may do with each other buffer p (indexed by p): set from its
   pairs before it is placed, cleared after. */
typedef struct {
  uint8_t *exact;   /* one of the two must start at the other */
  uint8_t *over;    /* it may be placed over p, as far as over_slack[p] */
  uint8_t *under;   /* p may be placed over it, as far as under_slack[p] */
  int64_t *over_slack, *under_slack;
} Relations;

/* placement.fits: may buffer b (of size b_size) start at c, given p placed at off_p? */
static int fits(const Relations *r, int p, int64_t c, int64_t b_size, int64_t off_p,
                int64_t p_size) {
  if (r->exact[p]) return c == off_p;
  if (c + b_size <= off_p || off_p + p_size <= c) return 1;
  if (r->over[p] && c - off_p <= r->over_slack[p]) return 1;
  return r->under[p] && off_p - c <= r->under_slack[p];
}

/* Is key (g, d, c) smaller than (bg, bd, bc)? The offset rules' keys: (growth, |c|, c) for the
   tightest rule, (c < 0, |c|, c) for the lowest. */
static int better(int64_t g, int64_t d, int64_t c, int64_t bg, int64_t bd, int64_t bc) {
  if (g != bg) return g < bg;
  if (d != bd) return d < bd;
  return c < bc;
}

/* Run one trial; off[] gets every buffer's offset (by buffer index, shifted to start at 0).
   Returns the arena, or -1 when a buffer has no valid offset. live_start/live_list: for each
   buffer, the others live at the same time (compressed rows, as the pairs); placed[]: which
   of them this trial has placed so far. */
static int64_t place(int n, const int64_t *size, const int32_t *pair_start,
                     const int32_t *pair_list, const int32_t *out, const int32_t *in,
                     const int64_t *slack, const uint8_t *kind, const int64_t *live_start,
                     const int32_t *live_list, const int32_t *order, int tightest,
                     int64_t align, Relations *r, uint8_t *placed, int32_t *others,
                     int64_t *cand, int64_t *off) {
  int64_t low = 0, high = 0;
  memset(placed, 0, (size_t)n);
  for (int s = 0; s < n; ++s) {
    const int b = order[s];
    for (int k = pair_start[b]; k < pair_start[b + 1]; ++k) {
      const int e = pair_list[k];
      if (out[e] == b) {
        const int p = in[e];
        if (kind[e] & 2) r->exact[p] = 1;
        if (kind[e] & 1) { r->over[p] = 1; r->over_slack[p] = slack[e]; }
      } else {
        const int p = out[e];
        if (kind[e] & 2) r->exact[p] = 1;
        if (kind[e] & 1) { r->under[p] = 1; r->under_slack[p] = slack[e]; }
      }
    }
    int no = 0, nc = 0;
    cand[nc++] = 0;
    for (int64_t k = live_start[b]; k < live_start[b + 1]; ++k) {
      const int p = live_list[k];
      if (!placed[p]) continue;
      others[no++] = p;
      if (r->exact[p]) cand[nc++] = off[p];
      cand[nc++] = align_up(off[p] + size[p], align);
      cand[nc++] = align_down(off[p] - size[b], align);
      if (r->over[p]) cand[nc++] = align_down(off[p] + r->over_slack[p], align);
      if (r->under[p]) cand[nc++] = align_up(off[p] - r->under_slack[p], align);
    }
    int found = 0;
    int64_t best = 0, best_g = 0, best_d = 0;
    for (int i = 0; i < nc; ++i) {
      const int64_t c = cand[i];
      int ok = 1;
      for (int k = 0; k < no && ok; ++k)
        ok = fits(r, others[k], c, size[b], off[others[k]], size[others[k]]);
      if (!ok) continue;
      int64_t g;
      if (tightest) {
        const int64_t hi = high > c + size[b] ? high : c + size[b];
        g = hi - (low < c ? low : c);
      } else {
        g = c < 0;
      }
      if (!found || better(g, abs64(c), c, best_g, best_d, best)) {
        found = 1; best = c; best_g = g; best_d = abs64(c);
      }
    }
    for (int k = pair_start[b]; k < pair_start[b + 1]; ++k) {
      const int p = out[pair_list[k]] == b ? in[pair_list[k]] : out[pair_list[k]];
      r->exact[p] = r->over[p] = r->under[p] = 0;
    }
    if (!found) return -1;  /* an in-place output whose input's bytes this order gave away */
    off[b] = best;
    placed[b] = 1;
    if (best < low) low = best;
    if (best + size[b] > high) high = best + size[b];
  }
  for (int b = 0; b < n; ++b) off[b] -= low;
  return align_up(high - low, align);
}

/* Every trial: trial t places the buffers in the order orders[t * n .. t * n + n) with the
   tightest rule when tightest[t]; arenas[t] gets its arena (-1: no plan) and
   offsets[t * n + b] the offset of buffer b. Returns 0, or -1 when out of memory. */
int tme_place_trials(int32_t n, const int64_t *size, const int32_t *first, const int32_t *last,
                     int32_t pairs, const int32_t *out, const int32_t *in, const int64_t *slack,
                     const uint8_t *kind, int32_t trials, const int32_t *orders,
                     const uint8_t *tightest, int64_t align, int64_t *arenas,
                     int64_t *offsets) {
  /* the pairs of each buffer, both sides (compressed rows: pair_start[b] .. pair_start[b + 1]) */
  int32_t *pair_start = calloc((size_t)n + 1, sizeof *pair_start);
  int32_t *pair_list = malloc(sizeof *pair_list * (2 * (size_t)pairs + 1));
  Relations r = {calloc((size_t)n + 1, 1), calloc((size_t)n + 1, 1), calloc((size_t)n + 1, 1),
                 calloc((size_t)n + 1, sizeof(int64_t)), calloc((size_t)n + 1, sizeof(int64_t))};
  int32_t *others = malloc(sizeof *others * ((size_t)n + 1));
  int64_t *cand = malloc(sizeof *cand * (5 * (size_t)n + 1));
  uint8_t *placed = malloc((size_t)n + 1);
  int64_t *live_start = calloc((size_t)n + 1, sizeof *live_start);
  int32_t *live_list = NULL;
  int status = -1;
  if (!pair_start || !pair_list || !r.exact || !r.over || !r.under || !r.over_slack ||
      !r.under_slack || !others || !cand || !placed || !live_start)
    goto done;
  /* the buffers live at the same time as each buffer: counted, then listed */
  for (int b = 0; b < n; ++b)
    for (int p = 0; p < n; ++p)
      live_start[b + 1] += p != b && first[b] <= last[p] && first[p] <= last[b];
  for (int b = 0; b < n; ++b) live_start[b + 1] += live_start[b];
  live_list = malloc(sizeof *live_list * ((size_t)live_start[n] + 1));
  if (!live_list) goto done;
  for (int64_t b = 0, k = 0; b < n; ++b)
    for (int p = 0; p < n; ++p)
      if (p != b && first[b] <= last[p] && first[p] <= last[b]) live_list[k++] = p;
  for (int e = 0; e < pairs; ++e) {
    pair_start[out[e] + 1]++;
    pair_start[in[e] + 1]++;
  }
  for (int b = 0; b < n; ++b) pair_start[b + 1] += pair_start[b];
  {
    int32_t *fill = others; /* (free until the trials start) */
    memcpy(fill, pair_start, sizeof *fill * (size_t)n);
    for (int e = 0; e < pairs; ++e) {
      pair_list[fill[out[e]]++] = e;
      pair_list[fill[in[e]]++] = e;
    }
  }
  for (int t = 0; t < trials; ++t)
    arenas[t] = place(n, size, pair_start, pair_list, out, in, slack, kind, live_start,
                      live_list, orders + (size_t)t * n, tightest[t], align, &r, placed, others,
                      cand, offsets + (size_t)t * n);
  status = 0;
done:
  free(pair_start); free(pair_list); free(r.exact); free(r.over); free(r.under);
  free(r.over_slack); free(r.under_slack); free(others); free(cand); free(placed);
  free(live_start); free(live_list);
  return status;
}
