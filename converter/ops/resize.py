"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR of an int8 NHWC tensor to a constant size
(Keras' Resizing layer, tf.image.resize), with tables per output row and column computed here
as TFLite Micro computes them at run time. TFLM reads no quantization: raw int8 values in and
out.

- Nearest (resize_nearest_neighbor.cc, GetNearestNeighbor): output row y reads input row
  min(f((y + offset) * scale), in - 1) in float32, scale (in - 1) / (out - 1) with
  align_corners (and out > 1), else in / out; offset 0.5 with half_pixel_centers (and then at
  least 0); f rounds half away from zero with align_corners, else floors.
- Bilinear (ResizeBilinearInteger, no floating point): scale_10 = (1024 in + out / 2) / out
  (align_corners: (1024 (in - 1) + (out - 1) / 2) / (out - 1)); output row y's position
  v = y scale_10 (y scale_10 + scale_10 / 2 - 512 with half_pixel_centers) lies between input
  rows y0 = max(v / 1024, 0) and y1 = min((v + 1023) / 1024, in - 1) (C division), y1
  weighted v - 1024 y0 in 1/1024ths; the four products summed in int64, divided by 2^20
  rounding half away from zero.
"""
from __future__ import annotations

import math

import numpy as np

from .base import OpDef, expect_dtype, expect_per_tensor, fail
from .strided_copy import const_ints


def nearest_indices(in_size: int, out_size: int, align_corners: bool,
                    half_pixel_centers: bool) -> list[int]:
    f32 = np.float32
    scale = f32(in_size - 1) / f32(out_size - 1) if align_corners and out_size > 1 else \
        f32(in_size) / f32(out_size)
    offset = f32(0.5) if half_pixel_centers else f32(0.0)
    result = []
    for y in range(out_size):
        v = float((f32(y) + offset) * scale)
        index = int(math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)) \
            if align_corners else int(math.floor(v))
        index = min(index, in_size - 1)
        result.append(max(index, 0) if half_pixel_centers else index)
    return result


def c_div(a: int, b: int) -> int:
    """C's integer division (towards zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def bilinear_table(in_size: int, out_size: int, align_corners: bool,
                   half_pixel_centers: bool) -> list[int]:
    """(lower index, upper index, weight of the upper in 1/1024ths) of each output index."""
    scale = c_div(1024 * in_size + out_size // 2, out_size)
    if align_corners and out_size > 1:
        scale = c_div(1024 * (in_size - 1) + (out_size - 1) // 2, out_size - 1)
    table = []
    for y in range(out_size):
        v = y * scale + c_div(scale, 2) - 512 if half_pixel_centers else y * scale
        lower = max(c_div(v, 1024), 0)
        upper = min(c_div(v + 1023, 1024), in_size - 1)
        table += [lower, upper, v - 1024 * lower]
    return table


class Resize(OpDef):
    kinds = ("RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR")
    kernels = ("resize",)

    def parse_options(self, o) -> dict:
        return {"align_corners": bool(o.AlignCorners()) if o is not None else False,
                "half_pixel_centers": bool(o.HalfPixelCenters()) if o is not None else False}

    def prepare(self, op) -> None:
        if len(op.inputs) != 2 or any(t is None for t in op.inputs) or len(op.outputs) != 1:
            raise fail(op, "expects an image and a size input, and 1 output")
        x, y = op.inputs[0], op.outputs[0]
        for t, role in ((x, "input"), (y, "output")):
            expect_dtype(op, t, "int8", role)
            expect_per_tensor(op, t, role)
            if len(t.shape) != 4:
                raise fail(op, f"{role} {list(t.shape)} must be 4-D NHWC")
        size = const_ints(op, 1, "size", ("int32",))
        n, h, w, c = x.shape
        if len(size) != 2 or list(y.shape) != [n, size[0], size[1], c]:
            raise fail(op, f"output {list(y.shape)} is not the input {list(x.shape)} resized to "
                           f"{size}")
        align, half = op.options["align_corners"], op.options["half_pixel_centers"]
        if op.kind == "RESIZE_BILINEAR" and align and half:
            raise fail(op, "align_corners and half_pixel_centers are both set; TFLite Micro's "
                           "RESIZE_BILINEAR takes one or the other")
        table = nearest_indices if op.kind == "RESIZE_NEAREST_NEIGHBOR" else bilinear_table
        op.params.update(batches=n, in_h=h, in_w=w, out_h=size[0], out_w=size[1], depth=c,
                         rows=table(h, size[0], align, half), cols=table(w, size[1], align, half))

    def emit(self, op, c) -> str:
        p = op.params
        params = c.params("tme_resize_params", op, {k: p[k] for k in (
            "batches", "in_h", "in_w", "out_h", "out_w", "depth")})
        rows = c.const(np.asarray(p["rows"], np.int32), op, "rows")
        cols = c.const(np.asarray(p["cols"], np.int32), op, "cols")
        function = "tme_resize_nearest_s8" if op.kind == "RESIZE_NEAREST_NEIGHBOR" else \
            "tme_resize_bilinear_s8"
        return (f"{function}(&{params}, {rows}, {cols}, {c.ptr(op.inputs[0])}, "
                f"{c.ptr(op.outputs[0])});")
