"""ADD: int8 + int8 with broadcasting (up to 4-D) and a fused activation."""
from __future__ import annotations

from ..quant import f32, requant_multiplier
from .base import OpDef, expect_binary_int8, fail, fused_activation_range


class Add(OpDef):
    kinds = ("ADD",)
    elementwise = True
    kernels = ("add",)

    def parse_options(self, o) -> dict:
        return {"activation": o.FusedActivationFunction() if o is not None else 0}

    def prepare(self, op) -> None:
        a, b, y, dims, s1, s2 = expect_binary_int8(op)
        left_shift = 20
        twice_max = 2 * max(f32(a.scale), f32(b.scale))
        m1, sh1 = requant_multiplier(f32(a.scale) / twice_max, "first input")
        m2, sh2 = requant_multiplier(f32(b.scale) / twice_max, "second input")
        real_out = twice_max / ((1 << left_shift) * f32(y.scale))
        if not real_out < 1.0:  # QuantizeMultiplierSmallerThanOneExp CHECKs it
            raise fail(op, f"output scale {y.scale!r} is too small for the input scales "
                           f"{a.scale!r} and {b.scale!r}: TFLite Micro's int8 ADD needs "
                           "2 * max(input scales) < 2^20 * output scale (it aborts otherwise)")
        mo, sho = requant_multiplier(real_out, "output")
        act_min, act_max = fused_activation_range(op)
        op.params.update(
            dims=dims, stride1=s1, stride2=s2, in1_offset=-a.zero_point, in2_offset=-b.zero_point,
            out_offset=y.zero_point, in1_mult=m1, in1_shift=sh1, in2_mult=m2, in2_shift=sh2,
            out_mult=mo, out_shift=sho, left_shift=left_shift, act_min=act_min, act_max=act_max)

    def emit(self, op, c) -> str:
        params = c.params("tme_add_params", op, op.params)
        a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
        return f"tme_add_s8(&{params}, {c.ptr(a)}, {c.ptr(b)}, {c.ptr(y)});"
