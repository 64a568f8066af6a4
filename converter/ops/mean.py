"""MEAN over height and width (global average pooling) of an int8 NHWC tensor.

As TFLite Micro's reference_integer_ops::Mean: the sum of (x - in_zp) over the window is
requantized once, with the in_scale / out_scale multiplier divided by the element count in
fixed point (the shift first takes up floor(log2(count)) bits so little precision is lost).
"""
from __future__ import annotations

from ..quant import f32, requant_multiplier
from .base import (OpDef, expect_batch1, expect_inputs, expect_int8_activation, expect_rank,
                   fail, nhwc)


def mean_multiplier(in_scale: float, out_scale: float, count: int) -> tuple[int, int]:
    """(multiplier, shift) of in_scale / (out_scale * count), derived as TFLite derives it."""
    mult, shift = requant_multiplier(f32(in_scale) / f32(out_scale), "input over output scale")
    extra = min(count.bit_length() - 1, 32, 31 + shift)
    return (mult << extra) // count, shift - extra


class Mean(OpDef):
    kinds = ("MEAN",)
    kernels = ("mean",)

    def parse_options(self, o) -> dict:
        return {"keep_dims": bool(o.KeepDims()) if o is not None else False}

    def prepare(self, op) -> None:
        expect_inputs(op, 2, const=(1,))
        x, axes, y = op.inputs[0], op.inputs[1], op.outputs[0]
        expect_int8_activation(op, x, "input")
        expect_int8_activation(op, y, "output")
        expect_rank(op, x, (4,), "input")
        expect_batch1(op, x, "input")
        if not all(-4 <= int(a) < 4 for a in axes.data.reshape(-1)):
            raise fail(op, f"axes {axes.data.reshape(-1).tolist()} are out of range for a 4-D "
                           "input")
        reduced = sorted(int(a) % 4 for a in axes.data.reshape(-1))
        if reduced != [1, 2]:
            raise fail(op, f"MEAN over axes {axes.data.reshape(-1).tolist()} is not supported; "
                           "only over height and width (axes 1 and 2, global average pooling)")
        _, h, w, ch = nhwc(x)
        if h * w * 255 > 2**31 - 1:
            raise fail(op, f"MEAN over {h}x{w} values can overflow its int32 sum")
        if y.size != ch:
            raise fail(op, f"output {list(y.shape)} does not hold {ch} channels")
        mult, shift = mean_multiplier(x.scale, y.scale, h * w)
        op.params.update(self.shape_params(op), in_zero_point=x.zero_point,
                         out_zero_point=y.zero_point, mult=mult, shift=shift)

    def shape_params(self, op) -> dict:
        _, h, w, ch = op.inputs[0].shape
        return dict(count=h * w, channels=ch)

    def macs(self, op) -> int:
        return op.params["count"] * op.params["channels"]

    def emit(self, op, c) -> str:
        params = c.params("tme_mean_params", op, op.params)
        return f"tme_mean_hw_s8(&{params}, {c.ptr(op.inputs[0])}, {c.ptr(op.outputs[0])});"
