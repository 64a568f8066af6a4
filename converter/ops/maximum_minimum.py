"""MAXIMUM and MINIMUM: int8 with broadcasting (up to 4-D).

TFLite Micro (maximum_minimum.cc) has no Prepare: its kernel, MaximumMinimumBroadcastSlow,
compares the raw int8 values and stores the larger (smaller) one, reading no scale or zero point
of the inputs or the output. So does the generated code: bytes equal to TFLite Micro's whatever
the quantization (the TFLite converter gives the inputs and the output the same one).
"""
from __future__ import annotations

from .base import OpDef, expect_binary_int8


class MaximumMinimum(OpDef):
    kinds = ("MAXIMUM", "MINIMUM")
    elementwise = True
    kernels = ("minmax",)

    def prepare(self, op) -> None:
        _, _, _, dims, s1, s2 = expect_binary_int8(op)
        op.params.update(dims=dims, stride1=s1, stride2=s2)

    def emit(self, op, c) -> str:
        params = c.params("tme_minmax_params", op, op.params)
        a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
        function = "tme_maximum_s8" if op.kind == "MAXIMUM" else "tme_minimum_s8"
        return f"{function}(&{params}, {c.ptr(a)}, {c.ptr(b)}, {c.ptr(y)});"
