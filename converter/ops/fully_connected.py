"""FULLY_CONNECTED: int8 input and weights (per tensor or per output channel), int32 bias."""
from __future__ import annotations

import numpy as np

from .base import OpDef, expect_weighted_int8, fail, fused_activation_range
from .conv import (channel_multipliers, check_weights, gemm_constants, gemm_scratch,
                   gemm_scratch_bytes, requant_shifts)


class FullyConnected(OpDef):
    """A matrix product (tme_gemm.h): each batch is one row."""
    kinds = ("FULLY_CONNECTED",)
    kernels = ("gemm", "add")

    def parse_options(self, o) -> dict:
        if o is None:
            return {"activation": 0, "weights_format": 0, "keep_num_dims": False}
        return {"activation": o.FusedActivationFunction(), "weights_format": o.WeightsFormat(),
                "keep_num_dims": bool(o.KeepNumDims())}

    def prepare(self, op) -> None:
        x, w, bias, y = expect_weighted_int8(op)
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
        if bias is not None and not w.quant.per_channel:
            # GetQuantizedConvolutionMultipler: TFLite Micro rejects a bias scale far from
            # input scale * weight scale (relative to the output scale)
            product = float(np.float32(x.scale) * np.float32(w.quant.scale0))
            bias_scale = bias.quant.scale0 if bias.quant is not None else 0.0
            if not abs(product - bias_scale) / y.scale <= 0.02:
                raise fail(op, f"bias scale {bias_scale!r} is not input scale * weight scale "
                               f"({product!r}); TFLite Micro requires them to agree")
        act_min, act_max = fused_activation_range(op)
        mult, shift = channel_multipliers(op, x.scale, y.scale, w, out_depth)
        op.params.update(self.shape_params(op), in_offset=-x.zero_point, filter_offset=0,
                         out_offset=y.zero_point, act_min=act_min, act_max=act_max,
                         multiplier=mult, shift=shift)

    def shape_params(self, op) -> dict:
        out_depth, in_depth = op.inputs[1].shape
        return dict(batches=op.inputs[0].size // in_depth, in_depth=in_depth,
                    out_depth=out_depth)

    def macs(self, op) -> int:
        p = op.params
        return p["batches"] * p["in_depth"] * p["out_depth"]

    def scratch_bytes(self, op) -> int:
        p = op.params
        return gemm_scratch_bytes(p["batches"], p["in_depth"])

    def emit(self, op, c) -> str:
        x, w, y = op.inputs[0], op.inputs[1], op.outputs[0]
        bias = op.inputs[2] if len(op.inputs) > 2 else None
        p = op.params
        weights, folded = gemm_constants(w.data, None if bias is None else bias.data,
                                         x.zero_point)
        fields = dict(rows=p["batches"], k=p["in_depth"], k4=weights.shape[1],
                      out_c=p["out_depth"], im2col=0, out_offset=p["out_offset"],
                      act_min=p["act_min"], act_max=p["act_max"])
        fields["right_shift"], shifts = requant_shifts(p["multiplier"], p["shift"])
        params = c.params("tme_gemm_params", op, fields)
        return c.function(op, (
            f"tme_gemm_s8(&{params}, {c.ptr(x)}, {c.const(weights, op, 'weights')}, "
            f"{c.const(folded, op, 'bias')}, {c.const(p['multiplier'], op, 'mult')}, "
            f"{c.const(shifts, op, 'shift')}, NULL, NULL, {gemm_scratch(op, c)}, "
            f"{c.ptr(y)});"))
