"""TRANSPOSE_CONV (Keras' Conv2DTranspose): int8 input and output, int8 weights
[out_c, k_h, k_w, in_c] per tensor or per output channel, optional int32 bias, batch 1.

TFLite Micro (transpose_conv.cc; reference_integer_ops::TransposeConv): inputs are the output
shape (constant), the weights, the input, the bias. The padding is a forward convolution's
from the output size to ComputeOutSize(padding, output size, kernel, stride), dilation 1; the
multipliers are PopulateConvolutionQuantizationParams' per channel; every input pixel adds
(x - input zero point) * w into int32 accumulators of the output pixels its window covers,
which are then requantized, offset and clamped (by the fused activation where the options
carry one). Kernel: tme_transpose_conv.h, the accumulators in the op's scratch.
"""
from __future__ import annotations

from .base import (PADDING_NAMES, OpDef, expect_batch1, expect_int8_activation,
                   expect_window_padding, fail, fused_activation_range, same_padding)
from .conv import channel_multipliers, check_weights
from .strided_copy import const_ints


def forward_out_size(padding: str, size: int, kernel: int, stride: int) -> int:
    """TFLite's ComputeOutSize (dilation 1)."""
    if padding == "SAME":
        return (size + stride - 1) // stride
    return (size + stride - kernel) // stride


class TransposeConv(OpDef):
    kinds = ("TRANSPOSE_CONV",)
    kernels = ("transpose_conv",)

    def parse_options(self, o) -> dict:
        return {"padding": PADDING_NAMES.get(o.Padding(), o.Padding()), "stride_h": o.StrideH(),
                "stride_w": o.StrideW(), "activation": o.FusedActivationFunction()}

    def prepare(self, op) -> None:
        if len(op.inputs) not in (3, 4) or any(t is None for t in op.inputs[:3]) or \
                len(op.outputs) != 1:
            raise fail(op, "expects the output shape, weights, input (and optionally a bias) "
                           "and 1 output")
        w, x, y = op.inputs[1], op.inputs[2], op.outputs[0]
        bias = op.inputs[3] if len(op.inputs) == 4 else None
        expect_int8_activation(op, x, "input")
        expect_int8_activation(op, y, "output")
        expect_window_padding(op)
        if len(x.shape) != 4 or len(y.shape) != 4:
            raise fail(op, f"input {list(x.shape)} and output {list(y.shape)} must be 4-D NHWC")
        expect_batch1(op, x, "input")
        if not w.is_const or len(w.shape) != 4:
            raise fail(op, f"weights {w.name!r} must be a constant [out_c, k_h, k_w, in_c]")
        out_c, k_h, k_w, in_c = w.shape
        _, in_h, in_w, x_c = x.shape
        _, out_h, out_w, y_c = y.shape
        if x_c != in_c or y_c != out_c:
            raise fail(op, f"weights {list(w.shape)} do not match the input {list(x.shape)} and "
                           f"output {list(y.shape)} channels")
        if const_ints(op, 0, "output shape", ("int32",)) != list(y.shape):
            raise fail(op, f"the output shape input does not match the output {list(y.shape)}")
        o = op.options
        if o["stride_h"] < 1 or o["stride_w"] < 1:
            raise fail(op, f"strides {o['stride_h']}x{o['stride_w']} must be at least 1")
        check_weights(op, w, bias, out_c, axis=0)
        mult, shift = channel_multipliers(op, x.scale, y.scale, w, out_c)
        act_min, act_max = fused_activation_range(op)
        pads = [same_padding(size, forward_out_size(o["padding"], size, k, s), s, 1, k)
                for size, k, s in ((out_h, k_h, o["stride_h"]), (out_w, k_w, o["stride_w"]))]
        op.params.update(in_h=in_h, in_w=in_w, in_c=in_c, out_h=out_h, out_w=out_w,
                         out_c=out_c, k_h=k_h, k_w=k_w, stride_h=o["stride_h"],
                         stride_w=o["stride_w"], pad_top=pads[0], pad_left=pads[1],
                         input_offset=-x.zero_point, output_offset=y.zero_point,
                         act_min=act_min, act_max=act_max, multiplier=mult, shift=shift)

    def macs(self, op) -> int:
        p = op.params
        return p["in_h"] * p["in_w"] * p["in_c"] * p["k_h"] * p["k_w"] * p["out_c"]

    def scratch_bytes(self, op) -> int:
        p = op.params
        return 4 * p["out_h"] * p["out_w"] * p["out_c"]

    def emit(self, op, c) -> str:
        p = op.params
        params = c.params("tme_transpose_conv_params", op, {k: p[k] for k in (
            "in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "k_h", "k_w", "stride_h",
            "stride_w", "pad_top", "pad_left", "input_offset", "output_offset", "act_min",
            "act_max")})
        w, x = op.inputs[1], op.inputs[2]
        bias = op.inputs[3] if len(op.inputs) == 4 else None
        return (f"tme_transpose_conv_s8(&{params}, {c.ptr(x)}, {c.ptr(w)}, {c.ptr(bias)}, "
                f"{c.const(p['multiplier'], op, 'mult')}, {c.const(p['shift'], op, 'shift')}, "
                f"(int32_t *){c.scratch(op)}, {c.ptr(op.outputs[0])});")
