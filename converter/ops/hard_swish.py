"""HARD_SWISH: int8 -> int8, x * relu6(x + 3) / 6 in 16-bit fixed point.

Preparation as TFLite Micro's HardSwishPrepare, including its float32 arithmetic:
hires_input_scale = (1/128) * input scale and the two ratios are float32 divisions, widened to
double for QuantizeMultiplier; the int32 multipliers are then rounded to int16
(DownScaleInt32ToInt16Multiplier). TFLM rejects an output multiplier exponent above 0.
"""
from __future__ import annotations

import numpy as np

from ..quant import quantize_multiplier
from .base import OpDef, expect_unary_int8, fail


def downscale_int32_to_int16_multiplier(m: int) -> int:
    rounding = 1 << 15
    if m >= (1 << 31) - 1 - rounding:
        return (1 << 15) - 1
    return (m + rounding) >> 16


def hard_swish_params(input_scale: float, output_scale: float) -> dict:
    in_s, out_s = np.float32(input_scale), np.float32(output_scale)
    hires = np.float32(np.float32(1.0 / 128.0) * in_s)
    reluish_scale = np.float32(np.float32(3.0) / np.float32(32768.0))
    out_m, out_e = quantize_multiplier(float(np.float32(hires / out_s)))
    rel_m, rel_e = quantize_multiplier(float(np.float32(hires / reluish_scale)))
    return dict(reluish_multiplier=downscale_int32_to_int16_multiplier(rel_m),
                reluish_exponent=rel_e,
                output_multiplier=downscale_int32_to_int16_multiplier(out_m),
                output_exponent=out_e)


class HardSwish(OpDef):
    kinds = ("HARD_SWISH",)
    elementwise = True
    kernels = ("hard_swish",)
    #: the fields of the C parameter struct, all from op.params
    fields = ("size", "input_zero_point", "output_zero_point", "reluish_multiplier",
              "reluish_exponent", "output_multiplier", "output_exponent")

    def prepare(self, op) -> None:
        x, y = expect_unary_int8(op)
        with np.errstate(all="ignore"):
            p = hard_swish_params(x.scale, y.scale)
        if p["output_exponent"] > 0:
            raise fail(op, f"output scale {y.scale!r} is too small for the input scale "
                           f"{x.scale!r}: TFLite Micro's HARD_SWISH needs input scale / 128 <= "
                           "output scale (output multiplier exponent <= 0)")
        if p["reluish_exponent"] > 31:
            raise fail(op, f"input scale {x.scale!r} is too large for TFLite Micro's HARD_SWISH")
        op.params.update(size=x.size, input_zero_point=x.zero_point,
                         output_zero_point=y.zero_point, **p)

    def macs(self, op) -> int:
        return op.inputs[0].size

    def emit(self, op, c) -> str:
        params = c.params("tme_hard_swish_params", op, {k: op.params[k] for k in self.fields})
        return f"tme_hard_swish_s8(&{params}, {c.ptr(op.inputs[0])}, {c.ptr(op.outputs[0])});"
