"""The memory planner: every activation and scratch buffer gets an offset in one static arena.

Buffers are placed from tensor lifetimes over the op order (largest first, lowest free offset).
The model's inputs and outputs live in the arena too, so the arena size is the whole activation
memory of the model.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .ir import Graph, Tensor
from .ops import lookup

ALIGN = 16


@dataclass(eq=False)
class Buffer:
    name: str
    size: int
    first: int  # first op position at which it is live
    last: int  # last op position at which it is live
    tensors: list[Tensor] = field(default_factory=list)
    offset: int = -1

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class MemoryPlan:
    arena_bytes: int
    buffers: list[Buffer]
    tensor_buffer: dict[int, Buffer]  # id(tensor) -> its buffer
    scratch: dict[int, Buffer]  # op position -> scratch buffer

    def offset(self, tensor: Tensor) -> int:
        return self.tensor_buffer[id(tensor)].offset

    def live_bytes(self, position: int) -> int:
        """Bytes of the buffers live while the op at `position` runs."""
        return sum(b.size for b in self.buffers if b.first <= position <= b.last)


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def plan_memory(graph: Graph) -> MemoryPlan:
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
        if not t.is_const:
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
    all_buffers = buffers + list(scratch.values())

    placed: list[Buffer] = []
    for b in sorted(all_buffers, key=lambda b: (-b.size, b.first)):
        offset = 0
        for other in sorted((o for o in placed if o.overlaps_in_time(b)), key=lambda o: o.offset):
            if offset + b.size <= other.offset:
                break
            offset = max(offset, _align(other.offset + other.size))
        b.offset = offset
        placed.append(b)
    arena = _align(max((b.offset + b.size for b in all_buffers), default=0))
    return MemoryPlan(arena, all_buffers, root, scratch)
