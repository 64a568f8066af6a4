"""ARG_MAX and ARG_MIN of an int8 tensor along a constant axis, as int32 indices: TFLite
Micro's arg_min_max.cc, the reference ArgMinMax keeping the first index of the largest
(smallest) value. The output is the input without the axis; its values are indices, not
quantized. TFLM takes an int32 axis and writes int32 indices only (it fails on int64 ones,
tf.argmax's default).
"""
from __future__ import annotations

import numpy as np

from .base import OpDef, expect_dtype, expect_per_tensor, fail
from .strided_copy import const_ints


class ArgMinMax(OpDef):
    kinds = ("ARG_MAX", "ARG_MIN")
    kernels = ("argminmax",)

    def prepare(self, op) -> None:
        if len(op.inputs) != 2 or any(t is None for t in op.inputs) or len(op.outputs) != 1:
            raise fail(op, "expects a data and an axis input, and 1 output")
        x, y = op.inputs[0], op.outputs[0]
        expect_dtype(op, x, "int8", "input")
        expect_per_tensor(op, x, "input")
        if y.dtype != "int32":
            raise fail(op, f"output {y.name!r} is {y.dtype}; TFLite Micro's {op.kind} writes "
                           "int32 indices only (it fails otherwise): use tf.argmax(x, axis, "
                           "output_type=tf.int32)")
        axis = const_ints(op, 1, "axis", ("int32",))
        rank = len(x.shape)
        if len(axis) != 1 or not -rank <= axis[0] < rank:
            raise fail(op, f"axis {axis} must be one axis of the input {list(x.shape)}")
        a = axis[0] % rank
        if list(y.shape) != list(x.shape[:a]) + list(x.shape[a + 1:]):
            raise fail(op, f"output {list(y.shape)} is not the input {list(x.shape)} without "
                           f"axis {a}")
        op.params.update(outer=int(np.prod(x.shape[:a])), axis_size=x.shape[a],
                         inner=int(np.prod(x.shape[a + 1:])), is_max=int(op.kind == "ARG_MAX"))

    def macs(self, op) -> int:
        return op.inputs[0].size

    def emit(self, op, c) -> str:
        params = c.params("tme_arg_params", op, op.params)
        return f"tme_arg_minmax_s8(&{params}, {c.ptr(op.inputs[0])}, {c.ptr(op.outputs[0])});"
