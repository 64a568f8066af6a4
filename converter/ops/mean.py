"""MEAN over height and width (global average pooling) of an int8 NHWC tensor."""
from __future__ import annotations

from ..quant import f32, quantize_multiplier
from .base import (OpDef, expect_batch1, expect_inputs, expect_int8_activation, expect_rank,
                   fail, nhwc)


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
        reduced = sorted(int(a) % 4 for a in axes.data.reshape(-1))
        if reduced != [1, 2]:
            raise fail(op, f"MEAN over axes {axes.data.reshape(-1).tolist()} is not supported; "
                           "only over height and width (axes 1 and 2, global average pooling)")
        _, h, w, ch = nhwc(x)
        if y.size != ch:
            raise fail(op, f"output {list(y.shape)} does not hold {ch} channels")
        mult, shift = quantize_multiplier(f32(x.scale) / f32(y.scale))
        op.params.update(in_h=h, in_w=w, channels=ch, in_zero_point=x.zero_point,
                         out_zero_point=y.zero_point, mult=mult, shift=shift)

    def macs(self, op) -> int:
        p = op.params
        return p["in_h"] * p["in_w"] * p["channels"]

    def emit(self, op, c) -> str:
        params = c.params("tme_mean_params", op, op.params)
        return f"tme_mean_hw_s8(&{params}, {c.ptr(op.inputs[0])}, {c.ptr(op.outputs[0])});"
