"""ELU on float32 tensors: the float island TFLite's converter leaves in an int8 model for
Keras' elu (DEQUANTIZE -> ELU -> QUANTIZE).

TFLite Micro (elu.cc, reference_ops::Elu for float32): x where x >= 0, std::expm1(x) below.
The generated code calls the C library's expm1f, the same function where the library is the
same (glibc on a host, newlib on Cortex-M). TFLite Micro's int8 ELU (a lookup table) is not
what the TFLite converter writes, so it is not supported here.
"""
from __future__ import annotations

from .base import OpDef, expect_dtype, expect_inputs, fail


class Elu(OpDef):
    kinds = ("ELU",)
    elementwise = True
    kernels = ("float_ops",)

    def prepare(self, op) -> None:
        expect_inputs(op, 1)
        x, y = op.inputs[0], op.outputs[0]
        if x.dtype == "int8":
            raise fail(op, "int8 ELU is not supported (the TFLite converter writes ELU in float "
                           "between DEQUANTIZE and QUANTIZE, which is)")
        expect_dtype(op, x, "float32", "input")
        expect_dtype(op, y, "float32", "output")
        if x.size != y.size:
            raise fail(op, f"output shape {list(y.shape)} does not match the input shape "
                           f"{list(x.shape)}")

    def macs(self, op) -> int:
        return op.inputs[0].size

    def emit(self, op, c) -> str:
        x, y = op.inputs[0], op.outputs[0]
        return f"tme_elu_f32({y.size}, {c.ptr(x)}, {c.ptr(y)});"
