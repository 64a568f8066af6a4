"""RESHAPE and SQUEEZE: the same bytes under another shape, so no code and no new buffer."""
from __future__ import annotations

from .base import OpDef, fail


class Reshape(OpDef):
    kinds = ("RESHAPE", "SQUEEZE")
    alias = True

    def prepare(self, op) -> None:
        if not op.inputs or op.inputs[0] is None or len(op.outputs) != 1:
            raise fail(op, "expects one data input and one output")
        x, y = op.inputs[0], op.outputs[0]
        if x.is_const:
            raise fail(op, f"reshaping the constant {x.name!r} at run time is not supported")
        if x.size != y.size:
            raise fail(op, f"input {list(x.shape)} and output {list(y.shape)} differ in size")
        if x.dtype != y.dtype:
            raise fail(op, f"input is {x.dtype} but output is {y.dtype}")
        if x.quant is not None and y.quant is not None and (
                x.quant.scale0 != y.quant.scale0 or x.quant.zp0 != y.quant.zp0):
            raise fail(op, "input and output quantization differ; a reshape cannot requantize")
