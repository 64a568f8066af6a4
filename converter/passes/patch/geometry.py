"""Regions of a patch stage's tensors: what a window op's output region reads (each op
declares its window: `OpDef.window`), the receptive field of a chain of layers, the tiles of
an output."""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from ...ir import Op, Tensor
from ...ops import lookup


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
    win = lookup(op.kind).window(op)
    if win is not None and index == 0:
        return Region(*window_span(out[0], out[1], win.stride[0], win.pad[0], win.kernel[0],
                                   win.dilation[0], win.size[0]),
                      *window_span(out[2], out[3], win.stride[1], win.pad[1], win.kernel[1],
                                   win.dilation[1], win.size[1]))
    return out  # an elementwise input, or the skip tensor of a fused residual ADD


def receptive_field(ops: list[Op]) -> tuple[int, int]:
    """Input rows and columns that one output pixel of the chain `ops` depends on (ignoring the
    border): stride 1 grows it by (k - 1) d, stride s to s (rf - 1) + (k - 1) d + 1."""
    rf_h = rf_w = 1
    for op in reversed(ops):
        win = lookup(op.kind).window(op)
        if win is not None:
            rf_h = (rf_h - 1) * win.stride[0] + (win.kernel[0] - 1) * win.dilation[0] + 1
            rf_w = (rf_w - 1) * win.stride[1] + (win.kernel[1] - 1) * win.dilation[1] + 1
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
