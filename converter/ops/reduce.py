"""REDUCE_MAX, REDUCE_MIN and SUM of an int8 tensor (up to 4-D) over any of its axes.

TFLite Micro (reduce_common.cc): the axes are a constant int32 tensor, negative ones counted
from the end, repeats ignored (ResolveAxis); `keep_dims` changes the output's shape, not its
elements.
- REDUCE_MAX / REDUCE_MIN (ReduceGeneric): the largest (smallest) raw int8 value, starting
  from -128 (127). TFLM checks that the input and output have the same scale and zero point
  (the TFLite converter gives them the same quantization), so the raw value is the result.
- SUM (QuantizedMeanOrSum with compute_sum): the int32 sum of the raw values (wrapping), minus
  input zero point x count (an int64 product, the difference cut to int32), then
  MultiplyByQuantizedMultiplier with QuantizeMultiplier(input scale / output scale) in double,
  plus the output zero point, clamped.
Kernels: tme_reduce.h (each output element reduces its inputs in turn: no scratch).
"""
from __future__ import annotations

import numpy as np

from ..quant import f32, requant_multiplier
from .base import OpDef, expect_inputs, expect_int8_activation, expect_rank, fail


def reduce_shape(op) -> tuple[dict, int]:
    """The kernel's tme_reduce_shape of the op (after its checks), and the count of elements
    each output reduces."""
    x, axes, y = op.inputs[0], op.inputs[1], op.outputs[0]
    if axes.dtype != "int32":
        raise fail(op, f"axes tensor {axes.name!r} is {axes.dtype}; TFLite Micro needs int32")
    rank = len(x.shape)
    listed = [int(a) for a in np.asarray(axes.data).reshape(-1)]
    if any(not -rank <= a < rank for a in listed):
        raise fail(op, f"axes {listed} are out of range for the {rank}-D input "
                       f"{list(x.shape)}")
    reduced = {a % rank for a in listed}
    dims = [1] * (4 - rank) + list(x.shape)
    axes4 = {a + 4 - rank for a in reduced}
    strides = [int(np.prod(dims[k + 1:])) for k in range(4)]
    count = int(np.prod([dims[k] for k in axes4]))
    if y.size * count != x.size:
        raise fail(op, f"output shape {list(y.shape)} does not match the input "
                       f"{list(x.shape)} reduced over axes {sorted(reduced)}")
    shape = dict(kept=[1 if k in axes4 else dims[k] for k in range(4)],
                 kept_stride=[0 if k in axes4 else strides[k] for k in range(4)],
                 reduced=[dims[k] if k in axes4 else 1 for k in range(4)],
                 reduced_stride=[strides[k] if k in axes4 else 0 for k in range(4)])
    return shape, count


class _Reduce(OpDef):
    kernels = ("reduce",)

    def parse_options(self, o) -> dict:
        return {"keep_dims": bool(o.KeepDims()) if o is not None else False}

    def check(self, op):
        """(input, output) after the checks every reduction shares."""
        expect_inputs(op, 2, const=(1,))
        x, y = op.inputs[0], op.outputs[0]
        expect_int8_activation(op, x, "input")
        expect_int8_activation(op, y, "output")
        expect_rank(op, x, (1, 2, 3, 4), "input")
        return x, y

    def macs(self, op) -> int:
        return op.inputs[0].size


class ReduceMaxMin(_Reduce):
    kinds = ("REDUCE_MAX", "REDUCE_MIN")

    def prepare(self, op) -> None:
        x, y = self.check(op)
        if f32(x.scale) != f32(y.scale) or x.zero_point != y.zero_point:
            raise fail(op, f"input quantization (scale {x.scale!r}, zero point {x.zero_point}) "
                           f"and output quantization (scale {y.scale!r}, zero point "
                           f"{y.zero_point}) differ: TFLite Micro's int8 {op.kind} needs them "
                           "equal (it fails otherwise); the TFLite converter gives both the same")
        op.params["shape"], _ = reduce_shape(op)

    def emit(self, op, c) -> str:
        params = c.params("tme_reduce_shape", op, op.params["shape"])
        function = "tme_reduce_max_s8" if op.kind == "REDUCE_MAX" else "tme_reduce_min_s8"
        return f"{function}(&{params}, {c.ptr(op.inputs[0])}, {c.ptr(op.outputs[0])});"


class Sum(_Reduce):
    kinds = ("SUM",)

    def prepare(self, op) -> None:
        x, y = self.check(op)
        shape, count = reduce_shape(op)
        mult, shift = requant_multiplier(f32(x.scale) / f32(y.scale), "input over output scale")
        op.params.update(shape=shape, count=count, in_zero_point=x.zero_point,
                         out_zero_point=y.zero_point, mult=mult, shift=shift)

    def emit(self, op, c) -> str:
        params = c.params("tme_reduce_sum_params", op, op.params)
        return f"tme_reduce_sum_s8(&{params}, {c.ptr(op.inputs[0])}, {c.ptr(op.outputs[0])});"
