"""Integer requantization parameters, computed exactly as TFLite Micro computes them.

TFLite stores scales as float32 but derives multipliers in double; QuantizeMultiplier rounds
half away from zero (Python's `round` rounds half to even, so it is not used here).
"""
from __future__ import annotations

import math

import numpy as np

from .errors import ConversionError

INT8_MIN, INT8_MAX = -128, 127
#: the largest left shift the kernels' requantization (tme_requant) takes: a rescale factor of
#: 2^31 or more cannot be represented (TFLite Micro's int32 arithmetic overflows on it)
MAX_REQUANT_SHIFT = 31


def round_half_away(x: float) -> int:
    """C's round(): exact for every double (no `floor(x + 0.5)` carry error)."""
    a = abs(x)
    r = math.floor(a)
    if a - r >= 0.5:
        r += 1
    return int(r) if x >= 0 else -int(r)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """(multiplier Q31, shift) with real = multiplier * 2^(shift - 31), as TFLite's QuantizeMultiplier."""
    if real == 0.0:
        return 0, 0
    if not math.isfinite(real):
        raise ConversionError(f"a rescale factor of the model is {real}: its scales are out of "
                              "range (a zero, denormal or huge scale)")
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q_fixed), int(shift)


def requant_multiplier(real: float, what: str) -> tuple[int, int]:
    """quantize_multiplier for a kernel's requantization; a ConversionError naming `what` when
    the factor is too large for the int8 kernels (and for TFLite Micro's arithmetic)."""
    mult, shift = quantize_multiplier(real)
    if shift > MAX_REQUANT_SHIFT:
        raise ConversionError(f"{what}: the rescale factor {real:.3g} is 2^31 or more, beyond "
                              "what int8 requantization can represent (TFLite Micro's integer "
                              "arithmetic overflows on it); the output scale is far too small "
                              "for the input and weight scales: re-quantize the model with "
                              "representative data that exercises the layer")
    return mult, shift


def f32(x) -> float:
    """A value as the float32 TFLite stored it, widened to double as its C++ code does."""
    return float(np.float32(x))


def quantize_value(real: float, scale: float, zero_point: int) -> int:
    """zero_point + round(real / scale) in float32, as CalculateActivationRangeQuantized does.

    TFLite casts the rounded float to int32, which is undefined beyond the int32 range: such
    a scale is rejected here."""
    with np.errstate(all="ignore"):
        steps = float(np.float32(real) / np.float32(scale))
    if not abs(steps) < 2.0**31:
        raise ConversionError(f"the activation bound {real:g} is {steps:g} steps of the output "
                              f"scale {scale!r}, beyond int32: the output scale is too small "
                              "(TFLite Micro's arithmetic overflows on it)")
    return zero_point + round_half_away(steps)


#: fused activation (TFLite ActivationFunctionType) -> real-valued clamp range
_ACTIVATION_RANGES = {0: (None, None), 1: (0.0, None), 2: (-1.0, 1.0), 3: (0.0, 6.0)}
ACTIVATION_NAMES = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH",
                    5: "SIGN_BIT", 6: "SIGMOID"}


def activation_range(activation: int, scale: float, zero_point: int) -> tuple[int, int] | None:
    """Quantized [min, max] of a fused activation; None when the activation is not supported."""
    if activation not in _ACTIVATION_RANGES:
        return None
    lo, hi = _ACTIVATION_RANGES[activation]
    qmin, qmax = INT8_MIN, INT8_MAX
    if lo is not None:
        qmin = max(qmin, quantize_value(lo, scale, zero_point))
    if hi is not None:
        qmax = min(qmax, quantize_value(hi, scale, zero_point))
    return qmin, qmax
