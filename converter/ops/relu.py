"""RELU and RELU6 on int8, exactly as TFLite Micro's activations.cc computes them.

- RELU (CalculateReluOpData + ReluQuantized): requantize x - input zero point with
  QuantizeMultiplier(input scale / output scale), add the output zero point, clamp to
  [max(-128, output zero point), 127].
- RELU6 (Relu6Prepare + Relu6Quantized): a plain clamp of the int8 input to
  [input zero point, FloatToQuantizedType(6.0f)] in the *input* quantization. TFLM does not
  look at the output's scale or zero point, so neither does the generated code.
- RELU_N1_TO_1 and RELU_0_TO_1: TFLite Micro registers no kernel for them (activations.cc
  has RELU and RELU6 only; its interpreter refuses the model), so there is no reference to be
  bit-exact with: the converter refuses them by name (`ReluClamp`).
"""
from __future__ import annotations

import numpy as np

from ..quant import f32, quantize_multiplier, round_half_away
from .base import OpDef, expect_unary_int8, fail


class Relu(OpDef):
    kinds = ("RELU",)
    elementwise = True
    kernels = ("relu",)
    #: the fields of the C parameter struct, all from op.params
    fields = ("size", "in_offset", "out_offset", "multiplier", "shift", "act_min", "act_max")

    def prepare(self, op) -> None:
        x, y = expect_unary_int8(op)
        mult, shift = quantize_multiplier(f32(x.scale) / f32(y.scale))
        if shift > 30:
            raise fail(op, f"input scale {x.scale!r} over output scale {y.scale!r} is too "
                           "large a rescale factor")
        op.params.update(size=x.size, in_offset=x.zero_point, out_offset=y.zero_point,
                         multiplier=mult, shift=shift, act_min=max(-128, y.zero_point),
                         act_max=127)

    def macs(self, op) -> int:
        return op.inputs[0].size

    def emit(self, op, c) -> str:
        params = c.params("tme_relu_params", op, {k: op.params[k] for k in self.fields})
        return f"tme_relu_s8(&{params}, {c.ptr(op.inputs[0])}, {c.ptr(op.outputs[0])});"


class Relu6(OpDef):
    kinds = ("RELU6",)
    elementwise = True
    kernels = ("relu",)
    #: the fields of the C parameter struct, all from op.params
    fields = ("size", "lower", "upper")

    def prepare(self, op) -> None:
        x, _ = expect_unary_int8(op)
        with np.errstate(all="ignore"):
            six = float(np.float32(6.0) / np.float32(x.scale))
        if not abs(six) < 2.0**31:
            raise fail(op, f"input scale {x.scale!r} is too small for RELU6 (6 / scale must "
                           "fit in int32)")
        upper = min(127, max(-128, round_half_away(six) + x.zero_point))
        op.params.update(size=x.size, lower=x.zero_point, upper=upper)

    def macs(self, op) -> int:
        return op.inputs[0].size

    def emit(self, op, c) -> str:
        params = c.params("tme_relu6_params", op, {k: op.params[k] for k in self.fields})
        return f"tme_relu6_s8(&{params}, {c.ptr(op.inputs[0])}, {c.ptr(op.outputs[0])});"


class ReluClamp(OpDef):
    kinds = ("RELU_N1_TO_1", "RELU_0_TO_1")
    refused = ("TFLite Micro has no kernel for this activation (its interpreter refuses the "
               "model), so there is no reference to be bit-exact with. The TFLite converter "
               "emits RELU_N1_TO_1 for a clamp to [-1, 1] that it cannot fuse into the layer "
               "before: clamp the output of a CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ADD, "
               "SUB or MUL instead (there it becomes the layer's fused activation, which is "
               "supported), or clamp with tf.minimum / tf.maximum to other bounds (MINIMUM, "
               "MAXIMUM, RELU, RELU6 and LEAKY_RELU are supported)")
