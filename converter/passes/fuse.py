"""Fusion passes that remove whole buffers from the memory plan.

- PAD into the convolution that reads it: the kernel treats out-of-bounds taps as the zero
  point, which is exactly what PAD writes, so the padded tensor never exists.
- A residual ADD into the epilogue of the convolution whose result it adds: the conv result
  exists only one element at a time, and the ADD's output may then overwrite the skip tensor.
"""
from __future__ import annotations

from ..ir import Graph, Op
from ..ops.conv import SKIP_INPUT
from .inplace import choose_inplace_depthwise

_CONVS = ("CONV_2D", "DEPTHWISE_CONV_2D")


def _single_consumer(graph: Graph, op: Op) -> Op | None:
    """The only op reading op's output, when the output is not also a model output."""
    out = op.outputs[0]
    if any(t is out for t in graph.outputs):
        return None
    users = graph.consumers(out)
    return users[0] if len(users) == 1 else None


def fuse_pad_into_conv(graph: Graph) -> None:
    for pad in [op for op in graph.ops if op.kind in ("PAD", "PADV2")]:
        conv = _single_consumer(graph, pad)
        p = pad.params
        x = pad.inputs[0]
        if (conv is None or conv.kind not in _CONVS or conv.inputs[0] is not pad.outputs[0]
                or len(x.shape) != 4 or p["pad_value"] != x.zero_point
                or p["before"][0] or p["after"][0] or p["before"][3] or p["after"][3]):
            continue
        conv.inputs[0] = x
        conv.params.update(in_h=x.shape[1], in_w=x.shape[2],
                           pad_top=conv.params["pad_top"] + p["before"][1],
                           pad_left=conv.params["pad_left"] + p["before"][2])
        graph.ops.remove(pad)


def fuse_residual_add(graph: Graph) -> None:
    position = {id(op): k for k, op in enumerate(graph.ops)}
    for add in [op for op in graph.ops if op.kind == "ADD"]:
        a, b, y = add.inputs[0], add.inputs[1], add.outputs[0]
        if not (a.size == b.size == y.size) or a is b:
            continue
        for conv_is_first, main, skip in ((1, a, b), (0, b, a)):
            conv = graph.producer(main)
            if conv is None or conv.kind not in _CONVS or "residual" in conv.params:
                continue
            if _single_consumer(graph, conv) is not add or skip.is_const:
                continue
            skip_producer = graph.producer(skip)
            if skip_producer is not None and position[id(skip_producer)] > position[id(conv)]:
                continue  # the skip tensor must exist before the convolution runs
            while len(conv.inputs) < SKIP_INPUT:
                conv.inputs.append(None)  # no bias
            conv.inputs.append(skip)
            conv.outputs = [y]
            conv.params["residual"] = {"add": dict(add.params), "conv_is_first": conv_is_first}
            graph.ops.remove(add)
            position = {id(op): k for k, op in enumerate(graph.ops)}
            break


def fuse(graph: Graph, *, dsp: bool = False) -> None:
    """`dsp`: the code is for Cortex-M cores with the DSP extension, whose kernels rank
    differently (passes/inplace.py)."""
    fuse_pad_into_conv(graph)
    fuse_residual_add(graph)
    choose_inplace_depthwise(graph, dsp=dsp)
