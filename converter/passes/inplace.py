"""Choose in-place depthwise convolutions.

A depthwise convolution (depth multiplier 1, no dilation) whose input dies there can overwrite
its input channel by channel (TinyEngine's in-place depthwise), with a few rows of one channel
as scratch (tme_dwconv.h). The alternative, writing the output in raster order just behind the
windows still to be read, costs a couple of input rows instead. Each op takes whichever needs
fewer extra bytes; in a chain of depthwise layers the in-place one also keeps every output at
its input's address.
An in-place output must start exactly at its input, which can get in the way of other
placements, so the whole plan is made with and without the chosen in-place ops and the
smaller arena wins; then each op takes the kernel that is faster on the target where that
leaves the arena as it is.
"""
from __future__ import annotations

from ..ir import Graph
from ..ops import lookup
from ..planner import arena_bytes


def inplace_is_cheaper(op) -> bool:
    """Does the in-place kernel need fewer extra bytes (its scratch) than the raster kernel
    (the input rows its output may not overwrite)? Asked before the op is made in place."""
    definition = lookup(op.kind)
    raster_extra = max(0, -definition.overlap_slack(op, 0))
    return definition.inplace_scratch_bytes(op) < raster_extra


def inplace_candidates(graph: Graph) -> list:
    """The depthwise ops that could run in place: the kernel supports them and nothing else
    reads their input."""
    readers: dict[int, list] = {}  # id(tensor) -> the ops reading it (graph.consumers)
    producer: dict[int, object] = {}  # id(tensor) -> the first op writing it (graph.producer)
    for op in graph.ops:
        for key in {id(t) for t in op.inputs if t is not None}:
            readers.setdefault(key, []).append(op)
        for t in op.outputs:
            producer.setdefault(id(t), op)
    candidates = []
    for op in graph.ops:
        definition = lookup(op.kind)
        if op.kind != "DEPTHWISE_CONV_2D" or not definition.can_run_inplace(op):
            continue
        x = op.inputs[0]
        if x.is_const or x.is_state or any(t is x for t in graph.outputs) or \
                readers[id(x)] != [op]:
            continue
        writer = producer.get(id(x))
        if writer is not None and lookup(writer.kind).alias:
            continue  # the bytes may be read under another name
        candidates.append(op)
    return candidates


def choose_inplace_for_memory(graph: Graph, candidates: list) -> tuple[list, int]:
    """The memory half of the choice: the candidates whose in-place kernel needs fewer extra
    bytes run in place, unless that makes the arena larger (then none does). Returns (the ops
    made in place, the arena). The search's cost model stops here: the speed half below keeps
    the arena as it is."""
    arena = arena_bytes(graph)
    chosen = [op for op in candidates if inplace_is_cheaper(op)]
    for op in chosen:
        op.params["inplace"] = True
    if chosen:
        with_chosen = arena_bytes(graph)
        if with_chosen > arena:
            for op in chosen:
                del op.params["inplace"]
            return [], arena
        arena = with_chosen
    return chosen, arena


def choose_inplace_depthwise(graph: Graph, *, dsp: bool = False) -> None:
    candidates = inplace_candidates(graph)
    if not candidates:
        return
    chosen, arena = choose_inplace_for_memory(graph, candidates)
    # Then speed, the arena staying exactly as planned (what search.cost predicts): each op
    # takes the faster kernel where that leaves the arena as it is. On a host the raster kernel,
    # all channels of a pixel at a time, vectorises best. On Arm DSP cores (`dsp`) the in-place
    # kernel, a channel at a time over 16-bit rows, takes two taps per instruction and shares
    # its loads between output pixels: faster on wide rows and large kernels.
    faster = {id(op): dsp and lookup(op.kind).inplace_is_faster(op) for op in candidates}
    for op in reversed(chosen):
        if not faster[id(op)]:
            del op.params["inplace"]
            if arena_bytes(graph) != arena:
                op.params["inplace"] = True
    for op in candidates:
        if faster[id(op)] and not op.params.get("inplace"):
            op.params["inplace"] = True
            if arena_bytes(graph) != arena:
                del op.params["inplace"]
