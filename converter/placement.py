"""Placement: every buffer of a plan gets its offset in the arena.

A trial places the buffers one by one in some order, each at the best of its candidate offsets
(next to a placed buffer, or over a dying input as far as the overlap permissions allow) that
is valid against every placed buffer live at the same time: the lowest offset, or (the
"tightest" rule) the one that grows the arena least. Several orders are tried, every order of a
few buffers, and the smallest arena wins.

`place` is the reference, in Python. `placement.c` runs the same trials compiled (built on
first use into the user cache, `native.py`), about a hundred times sooner: the converter's
planner, its passes and the search's cost model all place through `place_buffers`, which uses
it when a C compiler is at hand. Ties between candidate offsets are broken by an explicit key,
so both give the same offsets (a property test checks it on random buffer sets).
"""
from __future__ import annotations

import ctypes
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import native
from .ir import Tensor

ALIGN = 16
#: all orderings are tried up to this many buffers
EXHAUSTIVE_BUFFERS = 7


@dataclass(eq=False)
class Buffer:
    name: str
    size: int
    first: int  # first op position at which it is live
    last: int  # last op position at which it is live
    tensors: list[Tensor] = field(default_factory=list)
    offset: int = -1
    pinned: bool = False  # holds a model output: never overwritten

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last

    @property
    def end(self) -> int:
        return self.offset + self.size


def align_up(n: int) -> int:
    """n rounded up to the arena's alignment."""
    return -(-n // ALIGN) * ALIGN


def align_down(n: int) -> int:
    return n // ALIGN * ALIGN


def fits(b: Buffer, offset: int, p: Buffer, allowed, exact) -> bool:
    """May buffer b start at `offset`, given the placed buffer p live at the same time?"""
    if (id(b), id(p)) in exact or (id(p), id(b)) in exact:
        return offset == p.offset  # an in-place kernel writes where it reads, never elsewhere
    if offset + b.size <= p.offset or p.end <= offset:
        return True
    slack = allowed.get((id(b), id(p)))  # b writes over p, its dying input
    if slack is not None and offset - p.offset <= slack:
        return True
    slack = allowed.get((id(p), id(b)))  # p writes over b
    return slack is not None and p.offset - offset <= slack


def place(order: list[Buffer], allowed, exact, tightest: bool) -> int:
    """Place each buffer at the lowest valid offset, or (tightest) where the arena grows least;
    offsets may go below zero while placing (an output may need to sit below its input).
    Returns the arena size, with offsets shifted to start at zero (infinite when this order
    leaves an in-place output no valid offset).

    Ties between offsets go to the nearer one to zero, then the lower one: an explicit key, so
    that placement.c gives the same offsets."""
    placed: list[Buffer] = []
    low = high = 0
    for b in order:
        others = [p for p in placed if p.overlaps_in_time(b)]
        candidates = {0}
        for p in others:
            if (id(b), id(p)) in exact or (id(p), id(b)) in exact:
                candidates.add(p.offset)
            candidates.add(align_up(p.end))
            candidates.add(align_down(p.offset - b.size))
            slack = allowed.get((id(b), id(p)))
            if slack is not None:
                candidates.add(align_down(p.offset + slack))
            slack = allowed.get((id(p), id(b)))
            if slack is not None:
                candidates.add(align_up(p.offset - slack))
        valid = [c for c in candidates if all(fits(b, c, p, allowed, exact) for p in others)]
        if not valid:  # an in-place output whose input's bytes this order gave away: no plan
            return math.inf
        if tightest:
            b.offset = min(valid, key=lambda c: (max(high, c + b.size) - min(low, c), abs(c), c))
        else:
            b.offset = min(valid, key=lambda c: (c < 0, abs(c), c))
        low, high = min(low, b.offset), max(high, b.end)
        placed.append(b)
    for b in order:
        b.offset -= low
    return align_up(high - low)


#: the placement orders: sort keys of the buffers (Python's sort is stable: equal keys keep
#: the order the buffers were given in)
ORDERS = {
    "largest first": lambda b: (-b.size, b.first),
    "earliest first": lambda b: (b.first, -b.size),
    "longest-lived first": lambda b: (-(b.last - b.first), -b.size),
    "largest area first": lambda b: (-b.size * (b.last - b.first + 1), b.first),
    "latest first": lambda b: (-b.last, -b.size),
}

#: the names of the placement orders (place_buffers also tries all orders of a few buffers)
PLACEMENT_ORDERS = tuple(ORDERS)

_SOURCE = Path(__file__).with_name("placement.c")
_I32, _I64, _U8 = np.int32, np.int64, np.uint8


def _library():
    lib = native.load(_SOURCE, "the memory planner places buffers in Python (same offsets, "
                               "slower)")
    if lib is not None and not getattr(lib, "_typed", False):
        fn = lib.tme_place_trials
        fn.restype = ctypes.c_int
        fn.argtypes = ([ctypes.c_int32] + [ctypes.c_void_p] * 3 + [ctypes.c_int32]
                       + [ctypes.c_void_p] * 4 + [ctypes.c_int32] + [ctypes.c_void_p] * 2
                       + [ctypes.c_int64] + [ctypes.c_void_p] * 2)
        lib._typed = True
    return lib


def compiled() -> bool:
    """True when the placement trials run in C (else in Python: same offsets, slower)."""
    return _library() is not None


def run_trials(buffers: list[Buffer], trials, allowed, exact, *, compiled: bool = True):
    """Each trial placed on its own: [(arena, offsets of `buffers`)], or (infinity, None) where
    the trial found no plan. A trial is (order, tightest): the positions in `buffers` of the
    buffers in placement order, and True for the tightest rule. In C unless `compiled` is
    False or no compiler is at hand; the same either way. The buffers' own offsets are left as
    any trial set them (place_buffers sets the winner's)."""
    lib = _library() if compiled else None
    if lib is None:
        results = []
        for order, tightest in trials:
            arena = place([buffers[k] for k in order], allowed, exact, tightest)
            results.append((arena, [b.offset for b in buffers] if arena < math.inf else None))
        return results
    n, count = len(buffers), len(trials)
    index = {id(b): k for k, b in enumerate(buffers)}
    # kind: 1 = may overlap as far as the slack, 2 = must start at the same byte
    pairs = [(index[o], index[i], allowed.get((o, i), 0),
              ((o, i) in allowed) | 2 * ((o, i) in exact))
             for o, i in set(allowed) | set(exact) if o in index and i in index]
    out, into, slack, kind = zip(*pairs) if pairs else ((), (), (), ())
    rows: dict[int, np.ndarray] = {}  # id(order) -> as an array (trials share their orders)
    for order, _ in trials:
        if id(order) not in rows:
            rows[id(order)] = np.array(order, _I32)
    arrays = [np.array([b.size for b in buffers], _I64),
              np.array([b.first for b in buffers], _I32),
              np.array([b.last for b in buffers], _I32),
              np.array(out, _I32), np.array(into, _I32), np.array(slack, _I64),
              np.array(kind, _U8),
              np.concatenate([rows[id(order)] for order, _ in trials] or [np.zeros(0, _I32)]),
              np.array([rule for _, rule in trials], _U8),
              np.zeros(count, _I64), np.zeros(n * count, _I64)]
    size, first, last, out, into, slack, kind, orders, rules, arenas, offsets = (
        a.ctypes.data for a in arrays)
    if lib.tme_place_trials(n, size, first, last, len(pairs), out, into, slack, kind, count,
                            orders, rules, ALIGN, arenas, offsets) != 0:
        raise MemoryError("placement.c: out of memory")
    rows_out = arrays[-1].reshape(count, n).tolist()
    return [(math.inf, None) if arena < 0 else (arena, row)
            for arena, row in zip(arrays[-2].tolist(), rows_out)]


def place_buffers(buffers: list[Buffer], allowed=None, exact=None, orders=None,
                  tightest: bool = True, *, compiled: bool = True) -> tuple[int, str]:
    """Give every buffer its offset: the placement trials (several orders, all of them for a
    few buffers; lowest offset, and tightest offset too) and the smallest arena wins (the first
    of equal ones). Returns (arena bytes, the winning trial). `allowed` and `exact` are the
    overlap permissions (planner.overlap_permissions); `compiled`: see run_trials."""
    allowed, exact = allowed or {}, exact or set()
    names = list(orders or ORDERS)
    positions = range(len(buffers))
    # (a stable sort of the positions by the buffers' keys: the order of sorting the buffers)
    trials = [(name, sorted(positions, key=[ORDERS[name](b) for b in buffers].__getitem__))
              for name in names]
    if orders is None and len(buffers) <= EXHAUSTIVE_BUFFERS:
        trials += [("exhaustive", p) for p in itertools.permutations(positions)]
    rules = (False, True) if tightest else (False,)
    runs = list(itertools.product(trials, rules))
    results = run_trials(buffers, [(order, rule) for (_, order), rule in runs], allowed, exact,
                         compiled=compiled)
    if not results:
        return 0, ""
    best = min(range(len(results)), key=lambda k: results[k][0])  # the first of equal arenas
    arena, offsets = results[best]
    # (earliest first always finds a plan: an in-place output is placed right after its input)
    assert arena < math.inf, "no placement trial found a plan"
    for b, offset in zip(buffers, offsets):
        b.offset = offset
    (name, _), rule = runs[best]
    return arena, f"{name}, {'tightest' if rule else 'lowest'} offset"
