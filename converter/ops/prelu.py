"""PRELU: int8 x where x >= 0, alpha * x elsewhere, the two broadcast against each other over
up to 4 dimensions (Keras' PReLU: a constant slope per channel).

TFLite Micro (prelu_common.cc, CalculatePreluParams; reference BroadcastPrelu4DSlow): the
multipliers are QuantizeMultiplier of input scale / output scale and of input scale x alpha
scale / output scale, in double; alpha is per tensor; the output is clamped to int8.
"""
from __future__ import annotations

from ..quant import f32, requant_multiplier
from .base import OpDef, expect_binary_int8


class Prelu(OpDef):
    kinds = ("PRELU",)
    elementwise = True
    kernels = ("prelu",)

    def prepare(self, op) -> None:
        x, alpha, y, dims, s1, s2 = expect_binary_int8(op)
        mult1, shift1 = requant_multiplier(f32(x.scale) / f32(y.scale), "input over output "
                                           "scale")
        mult2, shift2 = requant_multiplier(f32(x.scale) * f32(alpha.scale) / f32(y.scale),
                                           "input times alpha over output scale")
        op.params.update(dims=dims, stride1=s1, stride2=s2, input_offset=-x.zero_point,
                         alpha_offset=-alpha.zero_point, output_offset=y.zero_point,
                         mult_identity=mult1, shift_identity=shift1, mult_alpha=mult2,
                         shift_alpha=shift2)

    def macs(self, op) -> int:
        return op.outputs[0].size

    def emit(self, op, c) -> str:
        params = c.params("tme_prelu_params", op, op.params)
        x, alpha = op.inputs
        return f"tme_prelu_s8(&{params}, {c.ptr(x)}, {c.ptr(alpha)}, {c.ptr(op.outputs[0])});"
