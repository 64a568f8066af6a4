"""Choose in-place depthwise convolutions.

A depthwise convolution (depth multiplier 1) whose input dies there can overwrite its input
channel by channel, with one output channel of scratch (TinyEngine's in-place depthwise). The
alternative, writing the output in raster order just behind the windows still to be read,
costs a couple of input rows instead. Each op takes whichever needs fewer extra bytes; in a
chain of depthwise layers the in-place one also keeps every output at its input's address.
An in-place output must start exactly at its input, which can get in the way of other
placements, so the whole plan is made with and without the chosen in-place ops and the
smaller arena wins.
"""
from __future__ import annotations

from ..ir import Graph
from ..ops import lookup
from ..planner import plan_memory


def choose_inplace_depthwise(graph: Graph) -> None:
    chosen = []
    for op in graph.ops:
        p = op.params
        if op.kind != "DEPTHWISE_CONV_2D" or p["depth_multiplier"] != 1 or "residual" in p:
            continue
        x = op.inputs[0]
        if x.is_const or any(t is x for t in graph.outputs) or graph.consumers(x) != [op]:
            continue
        producer = graph.producer(x)
        if producer is not None and lookup(producer.kind).alias:
            continue  # the bytes may be read under another name
        raster_extra = max(0, -lookup(op.kind).overlap_slack(op, 0))
        if p["out_h"] * p["out_w"] < raster_extra:
            chosen.append(op)
    if not chosen:
        return
    without = plan_memory(graph).arena_bytes
    for op in chosen:
        op.params["inplace"] = True
    if plan_memory(graph).arena_bytes > without:
        for op in chosen:
            del op.params["inplace"]
