"""LEAKY_RELU on int8, as TFLite Micro's leaky_relu.cc computes it.

Prepare (CalculateOpDataLeakyRelu): identity = input scale / output scale, alpha = input
scale * alpha / output scale, in double from the float32 values (some TFLite Micro sources
compute them in float32; the runtime this converter is checked against does not:
tests/test_ops_elementwise.py has scales where the two differ), each by QuantizeMultiplier
(alpha may be 0 or negative: a multiplier of that sign). The kernel
(reference_ops::QuantizeLeakyRelu): x - input zero point, requantized by the identity multiplier
where that is >= 0, by the alpha multiplier below, plus the output zero point, clamped to int8.
"""
from __future__ import annotations

import math

from ..quant import f32, requant_multiplier
from .base import OpDef, expect_unary_int8, fail


class LeakyRelu(OpDef):
    kinds = ("LEAKY_RELU",)
    elementwise = True
    kernels = ("relu",)
    #: the fields of the C parameter struct, all from op.params
    fields = ("size", "in_offset", "out_offset", "mult_identity", "shift_identity",
              "mult_alpha", "shift_alpha")

    def parse_options(self, o) -> dict:
        return {"alpha": float(o.Alpha()) if o is not None else 0.0}

    def prepare(self, op) -> None:
        x, y = expect_unary_int8(op)
        identity = f32(x.scale) / f32(y.scale)
        alpha = f32(x.scale) * f32(op.options["alpha"]) / f32(y.scale)
        if not math.isfinite(alpha):
            raise fail(op, f"alpha {op.options['alpha']!r} is not a finite rescale factor "
                           f"with input scale {x.scale!r} and output scale {y.scale!r}")
        mi, si = requant_multiplier(identity, "input scale / output scale")
        ma, sa = requant_multiplier(alpha, "input scale * alpha / output scale")
        op.params.update(size=x.size, in_offset=x.zero_point, out_offset=y.zero_point,
                         mult_identity=mi, shift_identity=si, mult_alpha=ma, shift_alpha=sa)

    def macs(self, op) -> int:
        return op.inputs[0].size

    def emit(self, op, c) -> str:
        params = c.params("tme_leaky_relu_params", op, {k: op.params[k] for k in self.fields})
        return f"tme_leaky_relu_s8(&{params}, {c.ptr(op.inputs[0])}, {c.ptr(op.outputs[0])});"
