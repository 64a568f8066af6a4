"""QUANTIZE (float -> int8 and uint8 -> int8 at the input, int8 -> int8 requantization, int8 ->
uint8 at the output) and DEQUANTIZE (int8 -> float at the output).

TFLite Micro (quantize_common.cc): an int8 input is requantized (Requantize: the input minus
its zero point, by the multiplier of input scale / output scale, plus the output zero point,
clamped to the output type) to int8 or uint8, a uint8 input to int8; uint8 at the edges is how
TFLite's converter gives a model `inference_input_type` / `inference_output_type = tf.uint8`
(microWakeWord's streaming models end so).
"""
from __future__ import annotations

from ..quant import f32, requant_multiplier
from .base import (OpDef, expect_dtype, expect_inputs, expect_int8_activation,
                   expect_per_tensor, fail)


def expect_same_size(op, x, y) -> None:
    if x.size != y.size:  # the kernel converts y.size values and reads as many
        raise fail(op, f"output shape {list(y.shape)} does not match the input shape "
                       f"{list(x.shape)}")


class Quantize(OpDef):
    kinds = ("QUANTIZE",)
    elementwise = True
    kernels = ("quantize",)

    def prepare(self, op) -> None:
        expect_inputs(op, 1)
        x, y = op.inputs[0], op.outputs[0]
        expect_dtype(op, x, ("float32", "int8", "uint8"), "input")
        if x.dtype == "int8" and y.dtype == "uint8":
            expect_per_tensor(op, y, "output")
        else:  # (uint8 only to int8, as TFLite Micro)
            expect_int8_activation(op, y, "output")
        expect_same_size(op, x, y)
        if x.dtype != "float32":
            expect_per_tensor(op, x, "input")
            mult, shift = requant_multiplier(f32(x.scale) / f32(y.scale),
                                             "input over output scale")
            op.params.update(mult=mult, shift=shift)

    def emit(self, op, c) -> str:
        x, y = op.inputs[0], op.outputs[0]
        if x.dtype == "float32":
            return (f"tme_quantize_f32_s8({c.ptr(x)}, {c.ptr(y)}, {y.size}u, {y.scale!r}f, "
                    f"{y.zero_point});")
        function = {("int8", "int8"): "tme_requantize_s8", ("int8", "uint8"): "tme_requantize_s8_u8",
                    ("uint8", "int8"): "tme_requantize_u8_s8"}[x.dtype, y.dtype]
        return (f"{function}({c.ptr(x)}, {c.ptr(y)}, {y.size}u, {x.zero_point}, "
                f"{y.zero_point}, {op.params['mult']}, {op.params['shift']});")


class Dequantize(OpDef):
    kinds = ("DEQUANTIZE",)
    elementwise = True
    kernels = ("quantize",)

    def prepare(self, op) -> None:
        expect_inputs(op, 1)
        x, y = op.inputs[0], op.outputs[0]
        expect_int8_activation(op, x, "input")
        expect_dtype(op, y, "float32", "output")
        expect_same_size(op, x, y)

    def emit(self, op, c) -> str:
        x, y = op.inputs[0], op.outputs[0]
        return (f"tme_dequantize_s8_f32({c.ptr(x)}, {c.ptr(y)}, {y.size}u, {x.scale!r}, "
                f"{x.zero_point});")
