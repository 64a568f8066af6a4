"""SOFTMAX: int8 -> int8 over the last axis, TFLite Micro's gemmlowp fixed-point path.

Preparation as softmax_common.cc (CalculateSoftmaxParams) with quantization_util.cc:
- the output must be int8 with zero point -128 and scale exactly 1/256 (TFLM checks both);
- PreprocessSoftmaxScaling(beta, input scale, 5 integer bits): the real multiplier
  min(beta * scale * 2^26, 2^31 - 1) in double, QuantizeMultiplierGreaterThanOne (which aborts
  unless it is > 1: rejected here instead);
- diff_min = -CalculateInputRadius(5, left shift) = -floor(31 * 2^26 / 2^left_shift).
The reference CHECKs that its final rounding shift is at most 31, which fails (TFLM aborts)
when a row's sum of exps reaches 512, e.g. 512 or more entries equal to the row maximum; the
generated code stays defined there (those outputs are -128 or -127) and is bit-exact elsewhere.
"""
from __future__ import annotations

import math

import numpy as np

from ..quant import f32, quantize_multiplier
from .base import OpDef, expect_inputs, expect_int8_activation, fail

SCALED_DIFF_INTEGER_BITS = 5


def softmax_scaling(beta: float, input_scale: float) -> tuple[int, int, int] | None:
    """(input_multiplier, input_left_shift, diff_min) as TFLM derives them; None if TFLM aborts."""
    real = min(f32(beta) * f32(input_scale) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)),
               float((1 << 31) - 1))
    if not real > 1.0:
        return None
    mult, left_shift = quantize_multiplier(real)
    if left_shift < 0:
        return None
    radius = math.floor(((1 << SCALED_DIFF_INTEGER_BITS) - 1)
                        * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)) / float(1 << left_shift))
    return mult, left_shift, -int(radius)


class Softmax(OpDef):
    kinds = ("SOFTMAX",)
    kernels = ("softmax", "fixedpoint")
    #: the fields of the C parameter struct, all from op.params
    fields = ("outer", "depth", "input_multiplier", "input_left_shift", "diff_min")

    def parse_options(self, o) -> dict:
        # without its options table TFLite Micro takes beta 0 (and then aborts): so do we
        return {"beta": float(o.Beta()) if o is not None else 0.0}

    def prepare(self, op) -> None:
        expect_inputs(op, 1)
        x, y = op.inputs[0], op.outputs[0]
        expect_int8_activation(op, x, "input")
        if y.dtype == "int16":
            raise fail(op, "int8 -> int16 softmax is not supported; supported: int8 output")
        expect_int8_activation(op, y, "output")
        if not x.shape:
            raise fail(op, "input must have at least one dimension")
        if list(x.shape) != list(y.shape):
            raise fail(op, f"output shape {list(y.shape)} differs from the input shape "
                           f"{list(x.shape)}")
        if y.zero_point != -128 or np.float32(y.scale) != np.float32(1.0 / 256):
            raise fail(op, f"output quantization (scale {y.scale!r}, zero point {y.zero_point}) "
                           "is not the int8 softmax output TFLite Micro requires: scale 1/256, "
                           "zero point -128")
        beta = op.options.get("beta", 1.0)
        scaling = softmax_scaling(beta, x.scale) if math.isfinite(beta) else None
        if scaling is None:
            raise fail(op, f"beta {beta!r} times the input scale {x.scale!r} is too small "
                           "(beta * scale * 2^26 must exceed 1; TFLite Micro aborts on it)")
        depth = x.shape[-1]
        mult, left_shift, diff_min = scaling
        op.params.update(outer=x.size // depth if depth else 0, depth=depth,
                         input_multiplier=mult, input_left_shift=left_shift, diff_min=diff_min)

    def macs(self, op) -> int:
        return op.inputs[0].size

    def emit(self, op, c) -> str:
        params = c.params("tme_softmax_params", op, {k: op.params[k] for k in self.fields})
        return f"tme_softmax_s8(&{params}, {c.ptr(op.inputs[0])}, {c.ptr(op.outputs[0])});"
