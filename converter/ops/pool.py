"""AVERAGE_POOL_2D and MAX_POOL_2D: int8, SAME/VALID, fused activation; quantization unchanged."""
from __future__ import annotations

from .base import (PADDING_NAMES, OpDef, Window, expect_batch1, expect_inputs,
                   expect_int8_activation, expect_rank, expect_window_padding, fail,
                   fused_activation_range, nhwc, params_window, raster_window_slack,
                   same_padding, window_output_size)


class _Pool(OpDef):
    kernels = ("pool",)
    function = ""

    def parse_options(self, o) -> dict:
        return dict(padding=PADDING_NAMES.get(o.Padding(), o.Padding()), stride_h=o.StrideH(),
                    stride_w=o.StrideW(), k_h=o.FilterHeight(), k_w=o.FilterWidth(),
                    activation=o.FusedActivationFunction())

    def window(self, op) -> Window:
        return params_window(op)

    def prepare(self, op) -> None:
        expect_inputs(op, 1)
        x, y = op.inputs[0], op.outputs[0]
        expect_int8_activation(op, x, "input")
        expect_int8_activation(op, y, "output")
        expect_rank(op, x, (4,), "input")
        expect_batch1(op, x, "input")
        if x.scale != y.scale or x.zero_point != y.zero_point:
            raise fail(op, "input and output quantization must be equal (as TFLite Micro requires)")
        o = op.options
        expect_window_padding(op)
        if min(o["stride_h"], o["stride_w"], o["k_h"], o["k_w"]) < 1:
            raise fail(op, "filter sizes and strides must be >= 1")
        _, in_h, in_w, ch = nhwc(x)
        _, out_h, out_w, out_c = nhwc(y)
        exp = (window_output_size(o["padding"], in_h, o["stride_h"], 1, o["k_h"]),
               window_output_size(o["padding"], in_w, o["stride_w"], 1, o["k_w"]), ch)
        if exp != (out_h, out_w, out_c):
            raise fail(op, f"output {list(y.shape)} does not match the pooling window output")
        if 128 * min(o["k_h"], in_h) * min(o["k_w"], in_w) > 2**31 - 1:
            raise fail(op, f"a {o['k_h']}x{o['k_w']} window can overflow the int32 sum")
        same = o["padding"] == "SAME"
        pad_top = same_padding(in_h, out_h, o["stride_h"], 1, o["k_h"]) if same else 0
        pad_left = same_padding(in_w, out_w, o["stride_w"], 1, o["k_w"]) if same else 0
        if max(pad_top, pad_left) > 32767:  # TFLite Micro keeps paddings in int16
            raise fail(op, f"SAME padding of {max(pad_top, pad_left)} pixels is beyond the 16 "
                           "bits TFLite Micro keeps it in (a huge window)")
        act_min, act_max = fused_activation_range(op)
        op.params.update(
            in_h=in_h, in_w=in_w, channels=ch, out_h=out_h, out_w=out_w, k_h=o["k_h"],
            k_w=o["k_w"], stride_h=o["stride_h"], stride_w=o["stride_w"],
            pad_top=pad_top, pad_left=pad_left, act_min=act_min, act_max=act_max)

    def overlap_slack(self, op, index: int) -> int | None:
        p = op.params
        return raster_window_slack(p["in_w"], p["channels"], p["out_h"], p["out_w"], p["channels"],
                                   p["stride_h"], p["stride_w"], p["pad_top"], p["pad_left"])

    def macs(self, op) -> int:
        p = op.params
        return p["out_h"] * p["out_w"] * p["channels"] * p["k_h"] * p["k_w"]

    def emit(self, op, c) -> str:
        params = c.params("tme_pool_params", op, op.params)
        return f"{self.function}(&{params}, {c.ptr(op.inputs[0])}, {c.ptr(op.outputs[0])});"


class AveragePool2D(_Pool):
    kinds = ("AVERAGE_POOL_2D",)
    function = "tme_avg_pool_s8"


class MaxPool2D(_Pool):
    kinds = ("MAX_POOL_2D",)
    function = "tme_max_pool_s8"
