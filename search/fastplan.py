"""The converter planner's placement trials, run in compiled C: same arena, ~100x sooner.

`converter.planner.plan_memory` places the buffers greedily in 5 orders x 2 offset rules and
keeps the smallest arena. For one MCUNet-sized network that is ~20 Python placements of ~70
buffers, a few milliseconds per plan and two plans per model (with and without in-place
depthwise convolutions): far too slow for stage 1 of TinyNAS (100,000 models). This module
runs exactly that algorithm in C and returns exactly its arena:

- the buffers, their lifetimes and their overlap permissions are given (the caller builds
  them as `planner.lifetimes` and `planner.overlap_permissions` do);
- the orders are the planner's own (`planner.ORDERS`, applied to `planner.Buffer` objects,
  with Python's stable sort), so a change there is picked up;
- placement replicates `planner.place`: the same candidate offsets, the same validity test
  (`planner.fits`), the same choice key, 16-byte alignment with floor division.

Ties between offsets are broken by the planner's explicit key. A buffer with no valid offset
makes the trial run again with the planner's own `place`, so the result is always the
planner's. Without a C compiler everything runs through `place` (exact, slower).

The C source is compiled once with the system compiler (`cc`) into the user cache folder.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from ..converter import placement as _planner
from ..converter.placement import align_up

__all__ = ["best_arena", "compiled", "C_SOURCE"]

C_SOURCE = r"""
#include <stdint.h>

static int64_t floordiv16(int64_t n) { return n >= 0 ? n / 16 : -((-n + 15) / 16); }
static int64_t align_down(int64_t n) { return floordiv16(n) * 16; }
static int64_t align_up(int64_t n) { return -floordiv16(-n) * 16; }
static int64_t absval(int64_t n) { return n < 0 ? -n : n; }

/* planner._fits: may buffer b start at c, given the placed buffer p? */
static int fits(int n, int b, int64_t c, int p, const int64_t *size, const int64_t *off,
                const uint8_t *allowed, const int64_t *slack, const uint8_t *exact) {
  if (exact[b * n + p] || exact[p * n + b]) return c == off[p];
  if (c + size[b] <= off[p] || off[p] + size[p] <= c) return 1;
  if (allowed[b * n + p] && c - off[p] <= slack[b * n + p]) return 1;
  return allowed[p * n + b] && off[p] - c <= slack[p * n + b];
}

/* planner.place for one order, from step `start` on (offsets of the buffers placed before it
   in off[], the extent so far in lowhigh[]). Returns 0 when done (lowhigh holds the extent),
   1 when two different offsets tie for the best key at step *step: the candidates, in the
   order the planner inserts them into its set, are in cand[0..*nc), their validity in valid[]
   (Python's set order decides: the caller picks, then resumes at *step + 1), 2 when a buffer
   has no valid offset. */
int tme_search_place(int n, const int64_t *size, const int32_t *first, const int32_t *last,
                     const uint8_t *allowed, const int64_t *slack, const uint8_t *exact,
                     const int32_t *order, int tightest, int start, int64_t *off,
                     int64_t *lowhigh, int32_t *others, int64_t *cand, uint8_t *valid,
                     int32_t *nc_out, int32_t *step) {
  int64_t low = lowhigh[0], high = lowhigh[1];
  for (int s = start; s < n; ++s) {
    const int b = order[s];
    int no = 0, nc = 0;
    cand[nc++] = 0;
    for (int k = 0; k < s; ++k) {
      const int p = order[k];
      if (!(first[b] <= last[p] && first[p] <= last[b])) continue;
      others[no++] = p;
      if (exact[b * n + p] || exact[p * n + b]) cand[nc++] = off[p];
      cand[nc++] = align_up(off[p] + size[p]);
      cand[nc++] = align_down(off[p] - size[b]);
      if (allowed[b * n + p]) cand[nc++] = align_down(off[p] + slack[b * n + p]);
      if (allowed[p * n + b]) cand[nc++] = align_up(off[p] - slack[p * n + b]);
    }
    int found = 0;
    int64_t best = 0, key1 = 0, key2 = 0;
    for (int i = 0; i < nc; ++i) {
      const int64_t c = cand[i];
      int ok = 1;
      for (int k = 0; k < no && ok; ++k)
        ok = fits(n, b, c, others[k], size, off, allowed, slack, exact);
      valid[i] = (uint8_t)ok;
      if (!ok) continue;
      int64_t k1, k2 = absval(c);
      if (tightest) {
        const int64_t hi = high > c + size[b] ? high : c + size[b];
        const int64_t lo = low < c ? low : c;
        k1 = hi - lo;
      } else {
        k1 = c < 0;
      }
      /* the planner's key: (k1, |c|, c) */
      if (!found || k1 < key1 || (k1 == key1 && (k2 < key2 || (k2 == key2 && c < best)))) {
        found = 1; best = c; key1 = k1; key2 = k2;
      }
    }
    if (!found) {
      lowhigh[0] = low; lowhigh[1] = high; *nc_out = nc; *step = s;
      return 2;
    }
    off[b] = best;
    if (best < low) low = best;
    if (best + size[b] > high) high = best + size[b];
  }
  lowhigh[0] = low; lowhigh[1] = high;
  return 0;
}
"""

#: how often the C placement handed a tie back to Python, and how many trials it ran
stats = {"trials": 0, "ties": 0}

_lock = threading.Lock()
_lib = None
_lib_error: str | None = None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tflm-mcunet"


def _build() -> ctypes.CDLL:
    digest = hashlib.sha256(C_SOURCE.encode()).hexdigest()[:16]
    candidates = [_cache_dir(), Path(tempfile.gettempdir()) / f"tflm-mcunet-{os.getuid()}"]
    last_error = None
    for folder in candidates:
        lib = folder / f"search_place_{digest}.so"
        try:
            if not lib.is_file():
                folder.mkdir(parents=True, exist_ok=True)
                fd, src = tempfile.mkstemp(suffix=".c", dir=folder)
                with os.fdopen(fd, "w") as f:
                    f.write(C_SOURCE)
                tmp = src[:-2] + ".so"
                try:
                    cc = os.environ.get("CC", "cc")
                    subprocess.run([cc, "-std=c99", "-O2", "-shared", "-fPIC", "-o", tmp, src],
                                   check=True, capture_output=True, timeout=120)
                    os.replace(tmp, lib)  # atomic: parallel workers may build it too
                finally:
                    for leftover in (src, tmp):
                        if os.path.exists(leftover):
                            os.unlink(leftover)
            return ctypes.CDLL(str(lib))
        except (OSError, subprocess.SubprocessError) as e:
            last_error = e
    raise OSError(f"cannot build the search planner library: {last_error}")


def _library():
    global _lib, _lib_error
    if _lib is None and _lib_error is None:
        with _lock:
            if _lib is None and _lib_error is None:
                try:
                    lib = _build()
                    fn = lib.tme_search_place
                    fn.restype = ctypes.c_int
                    fn.argtypes = ([ctypes.c_int] + [ctypes.c_void_p] * 7
                                   + [ctypes.c_int, ctypes.c_int] + [ctypes.c_void_p] * 7)
                    _lib = lib
                except OSError as e:
                    _lib_error = str(e)
                    warnings.warn(f"{e}; the search cost model falls back to the converter's "
                                  "Python planner (exact, slower)", RuntimeWarning, stacklevel=3)
    return _lib


def compiled() -> bool:
    """True when the C placement is in use (else the planner's Python `place`)."""
    return _library() is not None


def _ptr(a: np.ndarray) -> int:
    return a.ctypes.data


def best_arena(buffers: list, allowed: dict, exact: set, *, use_c: bool = True) -> int:
    """The arena `plan_memory` chooses for these planner `Buffer`s (tensor buffers first, then
    scratch, as `plan_memory` lists them), `allowed` {(id(out), id(in)): slack} and `exact`
    {(id(out), id(in))}, built as the planner builds them."""
    return min(trial_arenas(buffers, allowed, exact, use_c=use_c))


def trial_arenas(buffers: list, allowed: dict, exact: set, *, use_c: bool = True) -> list[int]:
    """The arena of every placement trial of `plan_memory`, in its order."""
    n = len(buffers)
    if n <= _planner.EXHAUSTIVE_BUFFERS:
        raise ValueError("small graphs are planned exhaustively: use plan_memory")
    orders = [sorted(buffers, key=key) for key in _planner.ORDERS.values()]
    trials = [(order, tightest) for order in orders for tightest in (False, True)]
    lib = _library() if use_c else None
    if lib is None:
        return [_planner.place(order, allowed, exact, tightest) for order, tightest in trials]
    index = {id(b): i for i, b in enumerate(buffers)}
    size = np.fromiter((b.size for b in buffers), np.int64, n)
    first = np.fromiter((b.first for b in buffers), np.int32, n)
    last = np.fromiter((b.last for b in buffers), np.int32, n)
    allow = np.zeros(n * n, np.uint8)
    slack = np.zeros(n * n, np.int64)
    ex = np.zeros(n * n, np.uint8)
    for (o, i), s in allowed.items():
        k = index[o] * n + index[i]
        allow[k] = 1
        slack[k] = s
    for o, i in exact:
        ex[index[o] * n + index[i]] = 1
    off = np.zeros(n, np.int64)
    lowhigh = np.zeros(2, np.int64)
    others = np.zeros(n, np.int32)
    cand = np.zeros(1 + 5 * n, np.int64)
    valid = np.zeros(1 + 5 * n, np.uint8)
    nc = np.zeros(1, np.int32)
    step = np.zeros(1, np.int32)
    shared = [_ptr(a) for a in (size, first, last, allow, slack, ex)]
    scratch = [_ptr(a) for a in (off, lowhigh, others, cand, valid, nc, step)]
    place = lib.tme_search_place
    arenas = []
    stats["trials"] += len(trials)
    for order, tightest in trials:
        order_idx = np.fromiter((index[id(b)] for b in order), np.int32, n)
        lowhigh[:] = 0
        start = 0
        while True:
            status = place(n, *shared, _ptr(order_idx), int(tightest), start, *scratch)
            if status != 1:
                break
            stats["ties"] += 1
            # a tie: the planner's `min` over its candidate set takes the first of the tied
            # offsets in the set's iteration order; rebuild that set (same insertions)
            s_, b = int(step[0]), int(order_idx[step[0]])
            values = cand[:nc[0]].tolist()
            candidates = {values[0]}
            for c in values[1:]:
                candidates.add(c)
            ok = {c for c, v in zip(values, valid[:nc[0]].tolist()) if v}
            low, high = int(lowhigh[0]), int(lowhigh[1])
            bsize = int(size[b])
            if not tightest:  # pragma: no cover - (c < 0, |c|) cannot tie
                raise AssertionError("tie under the lowest-offset rule")
            chosen = min((c for c in candidates if c in ok),
                         key=lambda c: (max(high, c + bsize) - min(low, c), abs(c)))
            off[b] = chosen
            lowhigh[0], lowhigh[1] = min(low, chosen), max(high, chosen + bsize)
            start = s_ + 1
        if status == 0:
            arena = align_up(int(lowhigh[1] - lowhigh[0]))
        else:  # no valid offset: let the planner itself say what it says
            arena = _planner.place(order, allowed, exact, tightest)
        arenas.append(arena)
    return arenas
