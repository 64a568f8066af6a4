"""SQUARED_DIFFERENCE: (int8 - int8)^2 with broadcasting (up to 4-D); no fused activation.

TFLite Micro (squared_difference.cc, PrepareQuantized with left_shift 7, so that the largest
squared difference 255^2 * 2^14 fits int32): twice_max_input_scale = 2 * max(input scales) in
double; input multipliers = input scale / twice_max_input_scale by
QuantizeMultiplierSmallerThanOneExp; output multiplier = twice_max_input_scale^2 /
(2^14 * output scale) (the denominator a float32 product) by QuantizeMultiplier, so of any size;
the output clamped to the int8 range. Kernel: tme_squared_difference_s8, ADD's loop and
parameter struct.
"""
from __future__ import annotations

import numpy as np

from ..quant import INT8_MAX, INT8_MIN, f32, requant_multiplier
from .add import Add


class SquaredDifference(Add):
    kinds = ("SQUARED_DIFFERENCE",)
    function = "tme_squared_difference_s8"
    left_shift = 7

    def parse_options(self, o) -> dict:
        return {}

    def ratios(self, a, b, y) -> tuple[float, float, float]:
        twice_max = 2.0 * max(f32(a.scale), f32(b.scale))
        with np.errstate(all="ignore"):
            denominator = float(np.float32(1 << (2 * self.left_shift)) * np.float32(y.scale))
        return (f32(a.scale) / twice_max, f32(b.scale) / twice_max,
                twice_max * twice_max / denominator)

    def output_multiplier(self, op, real: float, a, b, y) -> tuple[int, int]:
        return requant_multiplier(real, "output")

    def activation_range(self, op) -> tuple[int, int]:
        return INT8_MIN, INT8_MAX

    def macs(self, op) -> int:
        return op.outputs[0].size
