"""FULLY_CONNECTED: int8 input and weights (per tensor or per output channel), int32 bias."""
from __future__ import annotations

from .base import (OpDef, expect_inputs, expect_int8_activation, fail, fused_activation_range)
from .conv import channel_multipliers, check_weights


class FullyConnected(OpDef):
    kinds = ("FULLY_CONNECTED",)
    kernels = ("fully_connected",)

    def parse_options(self, o) -> dict:
        if o is None:
            return {"activation": 0, "weights_format": 0, "keep_num_dims": False}
        return {"activation": o.FusedActivationFunction(), "weights_format": o.WeightsFormat(),
                "keep_num_dims": bool(o.KeepNumDims())}

    def prepare(self, op) -> None:
        expect_inputs(op, 2, const=(1,))
        x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
        bias = op.inputs[2] if len(op.inputs) > 2 else None
        expect_int8_activation(op, x, "input")
        expect_int8_activation(op, y, "output")
        if op.options["weights_format"] != 0:
            raise fail(op, "shuffled weights format is not supported (DEFAULT only)")
        if len(w.shape) != 2:
            raise fail(op, f"weights {w.name!r} have shape {list(w.shape)}; expected 2-D")
        out_depth, in_depth = w.shape
        if in_depth == 0 or x.size % in_depth:
            raise fail(op, f"input of {x.size} values is not a multiple of the weights' "
                           f"{in_depth} inputs")
        batches = x.size // in_depth
        if y.size != batches * out_depth:
            raise fail(op, f"output {list(y.shape)} does not hold {batches} x {out_depth} values")
        check_weights(op, w, bias, out_depth, 0)
        act_min, act_max = fused_activation_range(op)
        mult, shift = channel_multipliers(op, x.scale, y.scale, w, out_depth)
        op.params.update(batches=batches, in_depth=in_depth, out_depth=out_depth,
                         in_offset=-x.zero_point, filter_offset=0, out_offset=y.zero_point,
                         act_min=act_min, act_max=act_max, multiplier=mult, shift=shift)

    def macs(self, op) -> int:
        p = op.params
        return p["batches"] * p["in_depth"] * p["out_depth"]

    def emit(self, op, c) -> str:
        x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
        bias = op.inputs[2] if len(op.inputs) > 2 else None
        fields = {k: op.params[k] for k in ("batches", "in_depth", "out_depth", "in_offset",
                                            "filter_offset", "out_offset", "act_min", "act_max")}
        params = c.params("tme_fc_params", op, fields)
        return (f"tme_fully_connected_s8(&{params}, {c.ptr(x)}, {c.ptr(w)}, {c.ptr(bias)}, "
                f"{c.const(op.params['multiplier'], op, 'mult')}, "
                f"{c.const(op.params['shift'], op, 'shift')}, {c.ptr(y)});")
