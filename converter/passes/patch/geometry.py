"""Regions of a patch stage's tensors: what a window op's output region reads, the receptive
field of a chain of layers, the tiles of an output."""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from ...ir import Op, Tensor

#: ops that read a window of their input; every other op of a stage is elementwise
WINDOW_KINDS = ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D")


class Region(NamedTuple):
    """Rows [top, bottom) and columns [left, right) of a tensor."""

    top: int
    bottom: int
    left: int
    right: int


def union(a: Region | None, b: Region) -> Region:
    if a is None:
        return b
    return Region(min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))


@lru_cache(maxsize=1 << 16)  # "auto" asks for the same windows again and again
def window_span(lo: int, hi: int, stride: int, pad: int, kernel: int, dil: int,
            size: int) -> tuple[int, int]:
    """Input rows [a, b) from the first to the last tap inside the image that output rows
    [lo, hi) of a window op read (with dilation, the first rows' windows may start on
    different phases: a few of them decide)."""
    def inside_taps(oy):  # the first and last tap of the window inside the image
        start = oy * stride - pad
        end = start + (kernel - 1) * dil
        first = start if start >= 0 else start + -(start // dil) * dil
        last = end if end < size else end - -((size - 1 - end) // dil) * dil
        return (first, last) if first <= last and 0 <= first and last < size else None

    firsts = [t[0] for oy in range(lo, min(hi, lo + dil)) if (t := inside_taps(oy))]
    lasts = [t[1] for oy in range(max(lo, hi - dil), hi) if (t := inside_taps(oy))]
    if not firsts or not lasts:
        return 0, 0  # only padding
    return min(firsts), max(lasts) + 1


def requirement(op: Op, index: int, out: Region) -> Region:
    """The region of input `index` that the output region `out` of `op` reads."""
    p = op.params
    if op.kind in WINDOW_KINDS and index == 0:
        return Region(*window_span(out[0], out[1], p["stride_h"], p["pad_top"], p["k_h"],
                         p.get("dil_h", 1), p["in_h"]),
                *window_span(out[2], out[3], p["stride_w"], p["pad_left"], p["k_w"],
                         p.get("dil_w", 1), p["in_w"]))
    return out  # an elementwise input, or the skip tensor of a fused residual ADD


def receptive_field(ops: list[Op]) -> tuple[int, int]:
    """Input rows and columns that one output pixel of the chain `ops` depends on (ignoring the
    border): stride 1 grows it by (k - 1) d, stride s to s (rf - 1) + (k - 1) d + 1."""
    rf_h = rf_w = 1
    for op in reversed(ops):
        if op.kind in WINDOW_KINDS:
            p = op.params
            rf_h = (rf_h - 1) * p["stride_h"] + (p["k_h"] - 1) * p.get("dil_h", 1) + 1
            rf_w = (rf_w - 1) * p["stride_w"] + (p["k_w"] - 1) * p.get("dil_w", 1) + 1
    return rf_h, rf_w


def activation_inputs(op: Op) -> list[tuple[int, Tensor]]:
    return [(i, t) for i, t in enumerate(op.inputs) if t is not None and not t.is_const]


def tiles(size: int, n: int) -> list[tuple[int, int]] | None:
    """n tiles of ceil(size / n) rows, the last one smaller; None if n does not fit."""
    step = -(-size // n)
    bounds = [min(k * step, size) for k in range(n + 1)]
    if n > size or len(set(bounds)) != n + 1:
        return None
    return list(zip(bounds, bounds[1:]))


def region_shape(t: Tensor, r: Region) -> tuple[int, int, int, int]:
    return 1, r[1] - r[0], r[3] - r[2], t.shape[3]
