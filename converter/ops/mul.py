"""MUL: int8 * int8 with numpy-style broadcasting (up to 4-D) and a fused activation.

TFLite Micro (mul_common.cc): multiplier = in1 scale * in2 scale / output scale in double from
the float32 scales, QuantizeMultiplier; reference_integer_ops::Mul, or BroadcastMul4DSlow when
the shapes differ (same arithmetic per element).
"""
from __future__ import annotations

from ..quant import f32, quantize_multiplier
from .base import OpDef, expect_binary_int8, fail, fused_activation_range


class Mul(OpDef):
    kinds = ("MUL",)
    elementwise = True
    kernels = ("mul",)
    #: the fields of the C parameter struct, all from op.params
    fields = ("dims", "stride1", "stride2", "broadcast", "in1_offset", "in2_offset", "out_offset",
              "multiplier", "shift", "act_min", "act_max")

    def parse_options(self, o) -> dict:
        return {"activation": o.FusedActivationFunction() if o is not None else 0}

    def prepare(self, op) -> None:
        a, b, y, dims, s1, s2 = expect_binary_int8(op)
        real = f32(a.scale) * f32(b.scale) / f32(y.scale)
        mult, shift = quantize_multiplier(real)
        if shift > 30:
            raise fail(op, f"input scales {a.scale:g} * {b.scale:g} over output scale "
                           f"{y.scale:g} is too large a rescale factor")
        act_min, act_max = fused_activation_range(op)
        op.params.update(
            dims=dims, stride1=s1, stride2=s2, broadcast=int(any(d > 1 and 0 in (i, j) for d, i, j in zip(dims, s1, s2))),
            in1_offset=-a.zero_point, in2_offset=-b.zero_point, out_offset=y.zero_point,
            multiplier=mult, shift=shift, act_min=act_min, act_max=act_max)

    def macs(self, op) -> int:
        return op.outputs[0].size

    def emit(self, op, c) -> str:
        params = c.params("tme_mul_params", op, {k: op.params[k] for k in self.fields})
        a, b, y = op.inputs[0], op.inputs[1], op.outputs[0]
        return f"tme_mul_s8(&{params}, {c.ptr(a)}, {c.ptr(b)}, {c.ptr(y)});"
