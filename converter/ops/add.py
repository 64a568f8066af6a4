"""ADD: int8 + int8 with broadcasting (up to 4-D) and a fused activation.

TFLite Micro (add_common.cc, CalculateOpDataAdd): left_shift 20; twice_max_input_scale =
2 * max(input scales) in double; input multipliers = input scale / twice_max_input_scale and
output multiplier = twice_max_input_scale / (2^20 * output scale), each by
QuantizeMultiplierSmallerThanOneExp (which CHECKs that the factor is < 1).

The class is also the template of the ops that share ADD's kernel and parameter struct
(`tme_add_params`): SUB (sub.py) and SQUARED_DIFFERENCE (squared_difference.py) override the
hooks below (`left_shift`, `ratios`, `output_multiplier`, `activation_range`, `function`).
"""
from __future__ import annotations

from ..quant import f32, requant_multiplier
from .base import OpDef, expect_binary_int8, fail, fused_activation_range


class Add(OpDef):
    kinds = ("ADD",)
    elementwise = True
    kernels = ("add",)
    #: the engine_c function the op calls (tme_add.h)
    function = "tme_add_s8"
    #: both inputs are shifted left by this many bits before they are rescaled
    left_shift = 20

    def parse_options(self, o) -> dict:
        return {"activation": o.FusedActivationFunction() if o is not None else 0}

    def ratios(self, a, b, y) -> tuple[float, float, float]:
        """The real input1, input2 and output rescale factors, computed as TFLite Micro does."""
        twice_max = 2 * max(f32(a.scale), f32(b.scale))
        return (f32(a.scale) / twice_max, f32(b.scale) / twice_max,
                twice_max / ((1 << self.left_shift) * f32(y.scale)))

    def output_multiplier(self, op, real: float, a, b, y) -> tuple[int, int]:
        if not real < 1.0:  # QuantizeMultiplierSmallerThanOneExp CHECKs it
            raise fail(op, f"output scale {y.scale!r} is too small for the input scales "
                           f"{a.scale!r} and {b.scale!r}: TFLite Micro's int8 {op.kind} needs "
                           f"2 * max(input scales) < 2^{self.left_shift} * output scale (it "
                           "aborts otherwise)")
        return requant_multiplier(real, "output")

    def activation_range(self, op) -> tuple[int, int]:
        return fused_activation_range(op)

    def prepare(self, op) -> None:
        a, b, y, dims, s1, s2 = expect_binary_int8(op)
        r1, r2, r_out = self.ratios(a, b, y)
        if not (r1 > 0 and r2 > 0):  # QuantizeMultiplierSmallerThanOneExp CHECKs it
            raise fail(op, f"the input scales {a.scale!r} and {b.scale!r} are too far apart: "
                           f"TFLite Micro's int8 {op.kind} rescales the smaller one to 0 and "
                           "aborts")
        m1, sh1 = requant_multiplier(r1, "first input")
        m2, sh2 = requant_multiplier(r2, "second input")
        mo, sho = self.output_multiplier(op, r_out, a, b, y)
        act_min, act_max = self.activation_range(op)
        op.params.update(
            dims=dims, stride1=s1, stride2=s2, in1_offset=-a.zero_point, in2_offset=-b.zero_point,
            out_offset=y.zero_point, in1_mult=m1, in1_shift=sh1, in2_mult=m2, in2_shift=sh2,
            out_mult=mo, out_shift=sho, left_shift=self.left_shift, act_min=act_min,
            act_max=act_max)

    def emit(self, op, c) -> str:
        params = c.params("tme_add_params", op, op.params)
        a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
        return f"{self.function}(&{params}, {c.ptr(a)}, {c.ptr(b)}, {c.ptr(y)});"
