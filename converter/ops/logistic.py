"""LOGISTIC (sigmoid) and TANH: int8 -> int8, TFLite Micro's gemmlowp fixed-point paths.

Preparation as logistic_common.cc (CalculateArithmeticOpDataLogistic) and tanh.cc
(CalculateArithmeticOpData) for int8, the same for both:
- input_real_multiplier = input scale * 2^27 in double; frexp gives (q, input_left_shift) and
  input_multiplier = round(q * 2^31) (no QuantizeMultiplier renormalisation);
- input_range_radius = CalculateInputRadius(4, input_left_shift, 31).
LOGISTIC's output zero point must be -128 (TFLM checks it; the kernel assumes scale 1/256).
TANH writes steps of 1/128 around 0 and TFLM checks nothing of its output (the TFLite converter
gives 1/128 and 0). Neither kernel reads the output's scale, so neither does the generated code.
"""
from __future__ import annotations

import math

from ..quant import f32, round_half_away
from .base import OpDef, expect_unary_int8, fail

INPUT_INTEGER_BITS = 4


def q4_input_scaling(input_scale: float) -> tuple[int, int, int] | None:
    """(input_multiplier, input_left_shift, input_range_radius) that take an int8 input to
    Q4.27; None when TFLM's math breaks."""
    real = f32(input_scale) * float(1 << (31 - INPUT_INTEGER_BITS))
    q, left_shift = math.frexp(real)
    mult = round_half_away(q * (1 << 31))
    if not 0 <= left_shift <= 62 or mult >= 1 << 31:
        return None
    radius = math.floor(((1 << INPUT_INTEGER_BITS) - 1)
                        * float(1 << (31 - INPUT_INTEGER_BITS)) / float(1 << left_shift))
    return mult, left_shift, int(radius)


class Logistic(OpDef):
    kinds = ("LOGISTIC", "TANH")
    elementwise = True
    kernels = ("logistic", "fixedpoint")
    #: the fields of the C parameter struct, all from op.params
    fields = ("size", "input_zero_point", "input_range_radius", "input_multiplier",
              "input_left_shift")

    def prepare(self, op) -> None:
        x, y = expect_unary_int8(op)
        if op.kind == "LOGISTIC" and y.zero_point != -128:
            raise fail(op, f"output zero point {y.zero_point} is not supported: TFLite Micro's "
                           "int8 LOGISTIC needs zero point -128 (and scale 1/256)")
        scaling = q4_input_scaling(x.scale)
        if scaling is None:
            raise fail(op, f"input scale {x.scale!r} is out of the range TFLite Micro's int8 "
                           f"{op.kind} handles (at least 2^-29)")
        mult, left_shift, radius = scaling
        op.params.update(size=x.size, input_zero_point=x.zero_point, input_range_radius=radius,
                         input_multiplier=mult, input_left_shift=left_shift)

    def macs(self, op) -> int:
        return op.inputs[0].size

    def emit(self, op, c) -> str:
        params = c.params("tme_logistic_params", op, {k: op.params[k] for k in self.fields})
        function = "tme_logistic_s8" if op.kind == "LOGISTIC" else "tme_tanh_s8"
        return f"{function}(&{params}, {c.ptr(op.inputs[0])}, {c.ptr(op.outputs[0])});"
