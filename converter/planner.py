"""The memory planner: every activation and scratch buffer gets an offset in one static arena.

Buffers live from the op that writes them to the last op that reads them. Two buffers live at
the same time may share bytes only where a kernel allows it: an op's output may overwrite an
input that dies at that op, as far as the op's `overlap_slack` says (the output is written in
order, behind the input still to be read). Placement is greedy (lowest valid offset) over
several orderings of the buffers, all of them tried when there are few; the smallest arena
wins. The lower bound says how far any layer-by-layer plan of this op order could go.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from .ir import Graph, Tensor
from .ops import lookup

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


@dataclass
class MemoryPlan:
    arena_bytes: int
    buffers: list[Buffer]
    tensor_buffer: dict[int, Buffer]  # id(tensor) -> its buffer
    scratch: dict[int, Buffer]  # op position -> scratch buffer
    overlaps: dict[tuple[int, int], int]  # (id(output buffer), id(input buffer)) -> slack
    exact: set[tuple[int, int]]  # of those, the pairs that must start at the same byte
    lower_bound_bytes: int
    order: str  # the placement order that won
    positions: int  # number of op positions

    def offset(self, tensor: Tensor) -> int:
        return self.tensor_buffer[id(tensor)].offset

    def live(self, position: int) -> list[Buffer]:
        return [b for b in self.buffers if b.first <= position <= b.last]

    def live_bytes(self, position: int) -> int:
        """Bytes of the buffers live while the op at `position` runs (overlaps counted twice)."""
        return sum(b.size for b in self.live(position))

    def high_water(self, position: int) -> int:
        """Highest arena byte in use while the op at `position` runs."""
        return max((b.end for b in self.live(position)), default=0)


def align_up(n: int) -> int:
    """n rounded up to the arena's alignment."""
    return -(-n // ALIGN) * ALIGN


def _align_down(n: int) -> int:
    return n // ALIGN * ALIGN


def lifetimes(graph: Graph):
    """The graph's buffers in first-use order (one per activation; an alias shares its input's),
    live from the op that writes them (position 0 for a model input) to the last op that reads
    them, model outputs to the end; the op definitions' scratch buffers by op position; and
    id(tensor) -> its buffer. Returns (buffers, scratch, root)."""
    end = max(len(graph.ops) - 1, 0)
    root: dict[int, Buffer] = {}
    buffers: list[Buffer] = []

    def buffer_of(t: Tensor, position: int) -> Buffer:
        if id(t) not in root:
            b = Buffer(t.name, t.nbytes, position, position, [t])
            root[id(t)] = b
            buffers.append(b)
        return root[id(t)]

    for t in graph.inputs:
        if not t.is_const and not any(s is t for s in graph.streamed):
            buffer_of(t, 0)
    scratch = {}
    for pos, op in enumerate(graph.ops):
        definition = lookup(op.kind)
        for t in op.inputs:
            if t is not None and not t.is_const:
                b = buffer_of(t, pos)
                b.last = max(b.last, pos)
        for t in op.outputs:
            if definition.alias:  # same bytes as the input, under another shape
                b = root[id(op.inputs[0])]
                root[id(t)] = b
                b.tensors.append(t)
            else:
                buffer_of(t, pos)
        size = definition.scratch_bytes(op)
        if size:
            scratch[pos] = Buffer(f"scratch of op #{op.index}", size, pos, pos)
    for t in graph.outputs:
        if not t.is_const:
            root[id(t)].last = end
            root[id(t)].pinned = True
    return buffers, scratch, root


def overlap_permissions(graph: Graph, root: dict[int, Buffer]):
    """(allowed, exact): {(id(output buffer), id(input buffer)): slack} for the pairs that may
    share bytes (an op's output over an input that dies there, as far as the op definition's
    `overlap_slack` says), and the set of pairs of in-place kernels (`shares_input`), whose
    output must start exactly at its input."""
    allowed, exact = {}, set()
    for pos, op in enumerate(graph.ops):
        definition = lookup(op.kind)
        if definition.alias or len(op.outputs) != 1:
            continue
        out = root[id(op.outputs[0])]
        if out.first != pos:
            continue
        shared = definition.shares_input(op)
        for index, t in enumerate(op.inputs):
            if t is None or t.is_const:
                continue
            src = root[id(t)]
            if src is out or src.pinned or src.last != pos:
                continue
            if index == shared:
                allowed[(id(out), id(src))] = 0
                exact.add((id(out), id(src)))
                continue
            slack = definition.overlap_slack(op, index)
            if slack is not None:
                key = (id(out), id(src))
                allowed[key] = min(slack, allowed.get(key, slack))
    return allowed, exact


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
    that any implementation of this placement (placement.c) gives the same offsets."""
    placed: list[Buffer] = []
    low = high = 0
    for b in order:
        others = [p for p in placed if p.overlaps_in_time(b)]
        candidates = {0}
        for p in others:
            if (id(b), id(p)) in exact or (id(p), id(b)) in exact:
                candidates.add(p.offset)
            candidates.add(align_up(p.end))
            candidates.add(_align_down(p.offset - b.size))
            slack = allowed.get((id(b), id(p)))
            if slack is not None:
                candidates.add(_align_down(p.offset + slack))
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


#: the names of the placement orders (plan_memory also tries all orders of a few buffers)
PLACEMENT_ORDERS = tuple(ORDERS)


def _max_saving(size_in: int, size_out: int, slack: int) -> int:
    """The most bytes an output can share with its dying input under the slack."""
    span = max(size_in, size_out) if slack >= 0 else max(size_in - slack, size_out)
    return max(size_in + size_out - span, 0)


def lower_bound(buffers: list[Buffer], allowed, positions: int, start: int = 0) -> int:
    """No plan of this op order needs less: at every op (from position `start` on), the live
    buffers that may not share bytes add up, and an output shares at most what its slack
    allows with each dying input."""
    by_id = {id(b): b for b in buffers}
    bound = 0
    for pos in range(start, positions):
        live = [b for b in buffers if b.first <= pos <= b.last]
        total = sum(b.size for b in live)
        outputs = {o for (o, _) in allowed if by_id[o].first == pos}
        best = total
        for o in outputs:
            saving = sum(_max_saving(by_id[i].size, by_id[o].size, s)
                         for (oo, i), s in allowed.items() if oo == o and by_id[i].last == pos)
            best = min(best, max(total - saving, total - by_id[o].size))
        bound = max(bound, best)
    return bound


def place_buffers(buffers: list[Buffer], allowed=None, exact=None, orders=None,
                  tightest: bool = True) -> tuple[int, str]:
    """Give every buffer its offset: the placement trials (several orders, all of them for a
    few buffers; lowest offset, and tightest offset too) and the smallest arena wins. Returns
    (arena bytes, the winning trial). `allowed` and `exact` are the overlap permissions."""
    allowed, exact = allowed or {}, exact or set()
    names = list(orders or ORDERS)
    trials = [(name, sorted(buffers, key=ORDERS[name])) for name in names]
    if orders is None and len(buffers) <= EXHAUSTIVE_BUFFERS:
        trials += [("exhaustive", list(p)) for p in itertools.permutations(buffers)]
    rules = (False, True) if tightest else (False,)
    best_arena, best_name, best_offsets = None, "", []
    for (name, order), tightest in itertools.product(trials, rules):
        arena = place(order, allowed, exact, tightest)
        if best_arena is None or arena < best_arena:
            best_arena, best_offsets = arena, [b.offset for b in buffers]
            best_name = f"{name}, {'tightest' if tightest else 'lowest'} offset"
    # (earliest first always finds a plan: an in-place output is placed right after its input)
    assert best_arena is None or best_arena < math.inf, "no placement trial found a plan"
    for b, offset in zip(buffers, best_offsets):
        b.offset = offset
    return best_arena or 0, best_name


def plan_memory(graph: Graph, *, overlap: bool = True, orders=None) -> MemoryPlan:
    """Plan the arena. `overlap=False, orders=("largest first",)` gives TFLite Micro's greedy
    plan (no buffer shares bytes with another live one)."""
    buffers, scratch, root = lifetimes(graph)
    allowed, exact = overlap_permissions(graph, root) if overlap else ({}, set())
    everything = buffers + list(scratch.values())
    arena, order = place_buffers(everything, allowed, exact, orders, tightest=overlap)
    positions = max(len(graph.ops), 1)
    return MemoryPlan(arena, everything, root, scratch, allowed, exact,
                      lower_bound(everything, allowed, positions), order, positions)
