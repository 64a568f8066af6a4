"""The memory planner: every activation and scratch buffer gets an offset in one static arena.

Buffers live from the op that writes them to the last op that reads them. Two buffers live at
the same time may share bytes only where a kernel allows it: an op's output may overwrite an
input that dies at that op, as far as the op's `overlap_slack` says (the output is written in
order, behind the input still to be read), and an in-place kernel's output starts exactly at
its input (`shares_input`). `lifetimes` and `overlap_permissions` say this for a graph;
`placement.place_buffers` gives the offsets (greedy placement over several orders of the
buffers, in compiled C when it can); the smallest arena wins. The lower bound says how far any
layer-by-layer plan of this op order could go.

The converter's passes and the search's cost model (`search.cost`) plan with these same
functions: a planning rule has one home.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .ir import Graph, Tensor
from .ops import lookup
from .placement import PLACEMENT_ORDERS, Buffer, align_up, place_buffers

__all__ = ["Buffer", "MemoryPlan", "PLACEMENT_ORDERS", "align_up", "arena_bytes", "lifetimes",
           "lower_bound", "overlap_permissions", "place_buffers", "plan_memory", "plan_state"]




@dataclass
class MemoryPlan:
    """Offsets in the arena, and in the state buffer (kept between invokes, never reused;
    `state_bytes` long): of the state variables (`state_offsets`: id(tensor) -> offset) and of
    the generated code's int32 bookkeeping there (`state_words`: "started", the flag of the
    first invoke; "ring<n>", ring n's position)."""

    arena_bytes: int
    buffers: list[Buffer]
    tensor_buffer: dict[int, Buffer]  # id(tensor) -> its buffer
    scratch: dict[int, Buffer]  # op position -> scratch buffer
    overlaps: dict[tuple[int, int], int]  # (id(output buffer), id(input buffer)) -> slack
    exact: set[tuple[int, int]]  # of those, the pairs that must start at the same byte
    lower_bound_bytes: int
    order: str  # the placement order that won
    positions: int  # number of op positions
    state_offsets: dict[int, int] = field(default_factory=dict)
    state_bytes: int = 0
    state_words: dict[str, int] = field(default_factory=dict)

    @property
    def peak_bytes(self) -> int:
        """Static SRAM of the model's data: the arena and the state."""
        return self.arena_bytes + self.state_bytes

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


def lifetimes(graph: Graph):
    """The graph's buffers in first-use order (one per activation; an alias shares its input's),
    live from the op that writes them (position 0 for a model input) to the last op that reads
    them, model outputs to the end; the op definitions' scratch buffers by op position; and
    id(tensor) -> its buffer. Returns (buffers, scratch, root)."""
    end = max(len(graph.ops) - 1, 0)
    root: dict[int, Buffer] = {}
    buffers: list[Buffer] = []

    def buffer_of(t: Tensor, position: int) -> Buffer:
        b = root.get(id(t))
        if b is None:
            b = root[id(t)] = Buffer(t.name, t.nbytes, position, position, [t])
            buffers.append(b)
        return b

    for t in graph.inputs:
        if not t.is_const and not any(s is t for s in graph.streamed):
            buffer_of(t, 0)
    scratch = {}
    for pos, op in enumerate(graph.ops):
        definition = lookup(op.kind)
        for t in op.inputs:
            if t is not None and not t.is_const and not t.is_state:
                buffer_of(t, pos).last = pos  # (the positions only grow)
        for t in op.outputs:
            if t.is_state:  # (ASSIGN_VARIABLE: the state buffer, not the arena)
                continue
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
        if definition.alias or len(op.outputs) != 1 or op.outputs[0].is_state:
            continue
        out = root[id(op.outputs[0])]
        if out.first != pos:
            continue
        shared = definition.shares_input(op)
        for index, t in enumerate(op.inputs):
            if t is None or t.is_const or t.is_state:
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


def _place_graph(graph: Graph, overlap: bool, orders):
    buffers, scratch, root = lifetimes(graph)
    allowed, exact = overlap_permissions(graph, root) if overlap else ({}, set())
    everything = buffers + list(scratch.values())
    arena, order = place_buffers(everything, allowed, exact, orders, tightest=overlap)
    return arena, order, everything, scratch, root, allowed, exact


def arena_bytes(graph: Graph) -> int:
    """The arena `plan_memory(graph)` gives, without the rest of the plan (for the passes and
    the search's cost model, which compare arenas)."""
    return _place_graph(graph, True, None)[0]


def plan_state(graph: Graph) -> tuple[dict[int, int], dict[str, int], int]:
    """The state buffer: the state variables one after the other (each aligned as arena
    buffers are), then the int32 words of the code's bookkeeping (the first invoke's flag, each
    ring's position), its end aligned as the arena that follows it. Returns ({id(tensor):
    offset}, {word: offset}, the buffer's bytes)."""
    offsets, words, end = {}, {}, 0
    for t in graph.state:
        offsets[id(t)] = align_up(end)
        end = offsets[id(t)] + t.nbytes
    if graph.state:
        end = -(-end // 4) * 4
        for name in ["started"] + [f"ring{r.number}" for r in graph.rings]:
            words[name] = end
            end += 4
    return offsets, words, align_up(end)  # (the arena follows it in memory)


def plan_memory(graph: Graph, *, overlap: bool = True, orders=None) -> MemoryPlan:
    """Plan the arena (and the state buffer). `overlap=False, orders=("largest first",)` gives
    TFLite Micro's greedy plan (no buffer shares bytes with another live one)."""
    arena, order, everything, scratch, root, allowed, exact = _place_graph(graph, overlap,
                                                                           orders)
    positions = max(len(graph.ops), 1)
    state_offsets, state_words, state_bytes = plan_state(graph)
    return MemoryPlan(arena, everything, root, scratch, allowed, exact,
                      lower_bound(everything, allowed, positions), order, positions,
                      state_offsets, state_bytes, state_words)
