"""RESHAPE, SQUEEZE and EXPAND_DIMS: the same bytes under another shape, so no code and no new
buffer."""
from __future__ import annotations

from .base import OpDef, fail


class Reshape(OpDef):
    kinds = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
    #: the inputs each kind takes at most: the data, then a shape or an axis
    max_inputs = {"RESHAPE": 2, "SQUEEZE": 1, "EXPAND_DIMS": 2}
    alias = True

    def parse_options(self, o) -> dict:
        if o is None or not hasattr(o, "SqueezeDimsAsNumpy") or o.SqueezeDimsIsNone():
            return {"squeeze_dims": []}
        return {"squeeze_dims": [int(d) for d in o.SqueezeDimsAsNumpy()]}

    def prepare(self, op) -> None:
        if not op.inputs or op.inputs[0] is None or len(op.outputs) != 1:
            raise fail(op, "expects one data input and one output")
        if len(op.inputs) > self.max_inputs[op.kind]:
            raise fail(op, f"has {len(op.inputs)} inputs; {op.kind} takes at most "
                           f"{self.max_inputs[op.kind]}")
        x, y = op.inputs[0], op.outputs[0]
        if x.is_const:
            raise fail(op, f"reshaping the constant {x.name!r} at run time is not supported")
        if x.size != y.size:
            raise fail(op, f"input {list(x.shape)} and output {list(y.shape)} differ in size")
        if op.kind == "SQUEEZE":  # TFLite Micro checks the shape, not only the size
            dims = op.options.get("squeeze_dims", [])
            rank = len(x.shape)
            if any(not -rank <= d < rank or x.shape[d] != 1 for d in dims):
                raise fail(op, f"squeeze dimensions {dims} are not dimensions of size 1 of the "
                               f"input {list(x.shape)}")
            drop = {d % rank for d in dims} if dims else {k for k in range(rank)
                                                          if x.shape[k] == 1}
            expected = [d for k, d in enumerate(x.shape) if k not in drop]
            if list(y.shape) != expected:
                raise fail(op, f"output {list(y.shape)} is not the squeezed input {expected}")
        if op.kind == "EXPAND_DIMS":  # TFLite Micro checks the shape, not only the size
            if len(op.inputs) != 2 or not op.inputs[1].is_const or op.inputs[1].size != 1:
                raise fail(op, "expects a data input and a constant axis")
            rank = len(x.shape) + 1
            axis = int(op.inputs[1].data.reshape(-1)[0])
            if not -rank <= axis < rank:
                raise fail(op, f"axis {axis} is out of range for the {rank}-D output")
            expected = list(x.shape)
            expected.insert(axis % rank, 1)
            if list(y.shape) != expected:
                raise fail(op, f"output {list(y.shape)} is not the input with an axis of size 1 "
                               f"at {axis} ({expected})")
        if x.dtype != y.dtype:
            raise fail(op, f"input is {x.dtype} but output is {y.dtype}")
        if x.quant is not None and y.quant is not None and (
                x.quant.scale0 != y.quant.scale0 or x.quant.zp0 != y.quant.zp0):
            raise fail(op, "input and output quantization differ; a reshape cannot requantize")
