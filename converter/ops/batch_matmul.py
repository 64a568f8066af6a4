"""BATCH_MATMUL of int8 tensors (2-D to 5-D): out = lhs x rhs over the last two axes, the
leading ones broadcast, `adj_x` / `adj_y` transposing an operand.

TFLite Micro (batch_matmul.cc, reference BatchMatMul<int8_t, int32_t>): the multiplier is
QuantizeMultiplier(lhs scale x rhs scale / output scale) in double; the sum of
(lhs - lhs zero point) x (rhs - rhs zero point) is requantized, offset by the output zero
point and clamped to int8 (no fused activation). The generated kernel reads a transposed
operand through its strides instead of copying it, as TFLM does, into scratch.
"""
from __future__ import annotations

from ..quant import f32, requant_multiplier
from .base import OpDef, expect_int8_activation, fail
from .strided_copy import row_major_strides


class BatchMatMul(OpDef):
    kinds = ("BATCH_MATMUL",)
    kernels = ("batch_matmul",)

    def parse_options(self, o) -> dict:
        return {"adj_x": bool(o.AdjX()) if o is not None else False,
                "adj_y": bool(o.AdjY()) if o is not None else False}

    def prepare(self, op) -> None:
        if len(op.inputs) != 2 or any(t is None for t in op.inputs) or len(op.outputs) != 1:
            raise fail(op, "expects two inputs and 1 output")
        lhs, rhs, y = op.inputs[0], op.inputs[1], op.outputs[0]
        for t, role in ((lhs, "first input"), (rhs, "second input"), (y, "output")):
            expect_int8_activation(op, t, role)
            if not 2 <= len(t.shape) <= 5:
                raise fail(op, f"{role} {list(t.shape)} must have 2 to 5 dimensions")
        adj_x, adj_y = op.options["adj_x"], op.options["adj_y"]
        rank = len(y.shape)
        ls = [1] * (5 - len(lhs.shape)) + list(lhs.shape)
        rs = [1] * (5 - len(rhs.shape)) + list(rhs.shape)
        rows, depth = (ls[4], ls[3]) if adj_x else (ls[3], ls[4])
        depth_r, cols = (rs[4], rs[3]) if adj_y else (rs[3], rs[4])
        batch = [max(a, b) for a, b in zip(ls[:3], rs[:3])]
        if depth != depth_r or any(a not in (1, n) or b not in (1, n)
                                   for a, b, n in zip(ls[:3], rs[:3], batch)):
            raise fail(op, f"inputs {list(lhs.shape)} and {list(rhs.shape)} (adj_x {adj_x}, "
                           f"adj_y {adj_y}) do not multiply")
        if ([1] * (5 - rank) + list(y.shape)) != batch + [rows, cols]:
            raise fail(op, f"output {list(y.shape)} should be {(batch + [rows, cols])[5 - rank:]}")
        mult, shift = requant_multiplier(f32(lhs.scale) * f32(rhs.scale) / f32(y.scale),
                                         "input scales over output scale")
        l_st, r_st = row_major_strides(ls), row_major_strides(rs)
        op.params.update(
            batch=batch, lhs_batch=[s if d > 1 else 0 for s, d in zip(l_st[:3], ls[:3])],
            rhs_batch=[s if d > 1 else 0 for s, d in zip(r_st[:3], rs[:3])], rows=rows,
            cols=cols, depth=depth, lhs_row=1 if adj_x else ls[4], lhs_k=ls[4] if adj_x else 1,
            rhs_k=1 if adj_y else rs[4], rhs_col=rs[4] if adj_y else 1,
            lhs_offset=-lhs.zero_point, rhs_offset=-rhs.zero_point, out_offset=y.zero_point,
            mult=mult, shift=shift)

    def macs(self, op) -> int:
        p = op.params
        return p["batch"][0] * p["batch"][1] * p["batch"][2] * p["rows"] * p["cols"] * p["depth"]

    def emit(self, op, c) -> str:
        params = c.params("tme_batch_matmul_params", op, op.params)
        lhs, rhs = op.inputs
        return (f"tme_batch_matmul_s8(&{params}, {c.ptr(lhs)}, {c.ptr(rhs)}, "
                f"{c.ptr(op.outputs[0])});")
