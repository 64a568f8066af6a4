"""Ring buffers: a streaming model's window shift, kept in place instead of copied.

A keyword spotter keeps its last frames in a variable S and, on every invoke, reads it
(READ_VARIABLE: a copy R), appends the new frames X (CONCATENATION: the window W = [R, X], a
second copy), keeps the newest frames (STRIDED_SLICE or SPLIT_V: T = the tail of W, a third
copy) and assigns them back (ASSIGN_VARIABLE: a fourth). Every byte of the state is copied
three or four times per invoke, and W, R and T take arena space.

Where the graph has exactly that shape, S becomes a ring buffer (ir.Ring) of
`keep + copies * step` bytes (keep: S's bytes, step: X's), in the state buffer: W is read in
place at the ring's position; the invoke copies only X behind the kept bytes (RING_APPEND);
at its end (RING_ADVANCE) the position moves on by `step`, and once every `copies` invokes the
kept bytes move back to the buffer's start. The bytes every op reads are the same as before,
so the outputs are too (bit-exact); the copies per invoke drop from about 3 x keep + 2 x step
to step + keep / copies, and W, R and T leave the arena.

`copies` trades memory for copies: 1 holds one window (keep + step bytes of state instead of
keep, while W, R and T leave the arena) and moves the kept bytes every invoke; n > 1 moves them
once every n invokes for (n - 1) x step more bytes. By default n = keep // step (at least 1):
the kept bytes never cost more than about two new frames' worth of copying per invoke, whatever
the state's size, for less than `keep` extra bytes; and a ring is made only where it does not
raise the peak SRAM (arena + state) as planned (n = 1 is tried next; else the copies stay).

The shape it takes, for a variable S (anything else is left as it is):
- S is read once and assigned once, the read first;
- the read's copy R is read only by a CONCATENATION of [R, X] along a dimension with no larger
  one before it (the window is R's bytes, then X's);
- the value assigned is read by nothing else and is the last `keep` bytes of the window, cut
  by a STRIDED_SLICE, SPLIT or SPLIT_V of it;
- the window is not a model output.
"""
from __future__ import annotations

import copy

import numpy as np

from ..ir import Graph, Op, Ring, Tensor
from ..ops import lookup
from ..ops.strided_slice import StridedSlice
from ..planner import arena_bytes, plan_state


def _takes_tail(op: Op, value: Tensor, window: Tensor, start: int) -> bool:
    """Whether `value`, an output of `op` on `window`, is the window's bytes from `start` on."""
    if op.kind == "STRIDED_SLICE":
        if op.inputs[0] is not window:
            return False
        axes = StridedSlice().axes(op)
        flat = np.arange(window.size).reshape(window.shape)
        index = tuple(a[0] if a[3] else slice(a[0], a[0] + a[1] * a[2] if a[0] + a[1] * a[2] >= 0
                                              else None, a[2]) for a in axes)
        taken = np.asarray(flat[index]).reshape(-1)
        return np.array_equal(taken, np.arange(start, window.size))
    if op.kind in ("SPLIT", "SPLIT_V"):
        data = op.inputs[1 if op.kind == "SPLIT" else 0]
        if data is not window or op.params["outer"] != 1:
            return False
        piece = op.params["pieces"][op.outputs.index(value)]
        return piece == (start, window.size - start)
    return False


def _ring_candidate(graph: Graph, state: Tensor, position: dict[int, int]):
    """(read, concatenation, cut, assign) when `state` has the shape of a window shift."""
    reads = [op for op in graph.ops if op.kind == "READ_VARIABLE" and op.inputs[0] is state]
    assigns = [op for op in graph.ops if op.kind == "ASSIGN_VARIABLE" and op.outputs[0] is state]
    if len(reads) != 1 or len(assigns) != 1 or state.dtype != "int8":
        return None
    read, assign = reads[0], assigns[0]
    if position[id(read)] > position[id(assign)]:
        return None
    copy = read.outputs[0]
    users = graph.consumers(copy)
    if len(users) != 1 or users[0].kind != "CONCATENATION" or \
            any(t is copy for t in graph.outputs):
        return None
    concat = users[0]
    if len(concat.inputs) != 2 or concat.inputs[0] is not copy or concat.params["outer"] != 1:
        return None
    new, window = concat.inputs[1], concat.outputs[0]
    if new.is_const or new.is_state or any(t is window for t in graph.outputs):
        return None
    value = assign.inputs[0]
    cut = graph.producer(value)
    if cut is None or graph.consumers(value) != [assign] or \
            any(t is value for t in graph.outputs):
        return None
    if not _takes_tail(cut, value, window, new.nbytes) or value.nbytes != state.nbytes:
        return None
    return read, concat, cut, assign


def _make_ring(graph: Graph, state: Tensor, found, times: int) -> Ring:
    """Rewrite the graph: `state` (whose window shift is `found`) becomes a ring buffer that
    holds `times` invokes' new bytes beyond the kept ones."""
    read, concat, cut, assign = found
    keep, step = state.nbytes, concat.inputs[1].nbytes
    initial = np.zeros(keep + times * step, np.int8)
    initial[:keep] = np.asarray(state.initial).reshape(-1).view(np.int8)
    buffer = Tensor(state.index, state.name, (initial.size,), "int8", state.quant,
                    initial=initial)
    ring = Ring(buffer, keep, step, len(graph.rings))
    window = concat.outputs[0]
    window.window_of = ring
    for op in graph.ops:  # the window under other shapes (RESHAPE) is in the ring too
        if lookup(op.kind).alias and op.inputs[0].window_of is ring:
            op.outputs[0].window_of = ring
    graph.state[graph.state.index(state)] = buffer
    ops = []
    for op in graph.ops:
        if op is read or op is assign:
            continue
        if op is concat:
            op = Op(concat.index, "RING_APPEND", [concat.inputs[1]], [window],
                    params=dict(ring=ring))
        elif op is cut:
            value = assign.inputs[0]
            # a SPLIT / SPLIT_V keeps its other pieces, those that something reads
            kept = [j for j, t in enumerate(cut.outputs) if t is not value and (
                graph.consumers(t) or any(t is g for g in graph.outputs))]
            if not kept:
                continue
            cut.outputs = [cut.outputs[j] for j in kept]
            cut.params["pieces"] = [cut.params["pieces"][j] for j in kept]
        ops.append(op)
    ops.append(Op(assign.index, "RING_ADVANCE", [], [buffer], params=dict(ring=ring)))
    graph.ops = ops
    graph.rings.append(ring)
    return ring


def _peak(graph: Graph) -> int:
    return arena_bytes(graph) + plan_state(graph)[2]


def ring_buffers(graph: Graph, copies: int | None = None) -> list[Ring]:
    """Turn the state variables of the window-shift shape into ring buffers (in place on the
    graph); returns the new rings. `copies`: the invokes between two moves of the kept bytes,
    for every such variable. None chooses per variable: keep // step (at least 1), else 1, the
    first that does not raise the peak SRAM (arena + state) as planned now; neither: the
    variable stays copied (its window was not where the arena peaks, or shared bytes there)."""
    if copies is not None and copies < 1:
        raise ValueError(f"copies must be at least 1, got {copies}")
    made: list[Ring] = []
    changed = True
    while changed:  # a ring may pay off only once another has moved the arena's peak
        changed = False
        for k in range(len(graph.state)):
            state = graph.state[k]
            position = {id(op): j for j, op in enumerate(graph.ops)}
            found = _ring_candidate(graph, state, position)
            if found is None:
                continue
            if copies is not None:
                made.append(_make_ring(graph, state, found, copies))
                continue
            keep, step = state.nbytes, found[1].inputs[1].nbytes
            before = _peak(graph)
            for times in dict.fromkeys((max(1, keep // step), 1)):
                trial = copy.deepcopy(graph)
                _make_ring(trial, trial.state[k], _ring_candidate(
                    trial, trial.state[k], {id(op): j for j, op in enumerate(trial.ops)}), times)
                if _peak(trial) <= before:
                    made.append(_make_ring(graph, state, found, times))
                    changed = True
                    break
    return made
