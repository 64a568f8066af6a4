"""TANH: int8 -> int8, TFLite Micro's gemmlowp fixed-point path (tanh.cc, int8 branch).

Preparation as LOGISTIC's (`q4_input_scaling`: the input scale times 2^27, frexp, the radius
for 4 integer bits). The kernel writes tanh in steps of 1/128 around 0 and TFLM reads neither
the output's scale nor its zero point (the TFLite converter gives 1/128 and 0), so neither
does the generated code.
"""
from __future__ import annotations

from .base import OpDef, expect_unary_int8, fail
from .logistic import q4_input_scaling


class Tanh(OpDef):
    kinds = ("TANH",)
    elementwise = True
    kernels = ("tanh", "fixedpoint")
    #: the fields of the C parameter struct, all from op.params
    fields = ("size", "input_zero_point", "input_range_radius", "input_multiplier",
              "input_left_shift")

    def prepare(self, op) -> None:
        x, _ = expect_unary_int8(op)
        scaling = q4_input_scaling(x.scale)
        if scaling is None:
            raise fail(op, f"input scale {x.scale!r} is out of the range TFLite Micro's int8 "
                           "TANH handles (at least 2^-29)")
        mult, left_shift, radius = scaling
        op.params.update(size=x.size, input_zero_point=x.zero_point, input_range_radius=radius,
                         input_multiplier=mult, input_left_shift=left_shift)

    def macs(self, op) -> int:
        return op.inputs[0].size

    def emit(self, op, c) -> str:
        params = c.params("tme_tanh_params", op, {k: op.params[k] for k in self.fields})
        return f"tme_tanh_s8(&{params}, {c.ptr(op.inputs[0])}, {c.ptr(op.outputs[0])});"
