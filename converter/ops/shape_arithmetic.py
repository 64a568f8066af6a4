"""SHAPE, STRIDED_SLICE, PACK on static shapes: folded to constants at conversion time.

Keras 3's Flatten emits SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE even in int8 models; with
static shapes all of it is known when converting, so none of it reaches the generated code.
"""
from __future__ import annotations

import numpy as np

from .base import OpDef, fail


class _Folded(OpDef):
    folds_only = True

    def evaluate(self, op) -> np.ndarray:
        raise NotImplementedError

    def prepare(self, op) -> None:
        raise fail(op, f"{op.kind} is only supported on values known at conversion time (static "
                       "shapes); this one depends on run-time data")


class Shape(_Folded):
    kinds = ("SHAPE",)

    def parse_options(self, o) -> dict:
        return {"out_type": o.OutType() if o is not None else 2}

    def evaluate(self, op):
        names = {2: "int32", 4: "int64"}  # TensorType codes
        if names.get(op.options["out_type"]) != op.outputs[0].dtype:
            raise fail(op, f"out_type {op.options['out_type']} does not name the output's type "
                           f"{op.outputs[0].dtype} (int32 or int64)")
        dtype = np.int64 if op.outputs[0].dtype == "int64" else np.int32
        return np.array(op.inputs[0].shape, dtype)

    def ready(self, op) -> bool:
        return True  # needs only the static shape of its input


class StridedSlice(_Folded):
    kinds = ("STRIDED_SLICE",)

    def parse_options(self, o) -> dict:
        names = ("BeginMask", "EndMask", "EllipsisMask", "NewAxisMask", "ShrinkAxisMask", "Offset")
        return {n: (getattr(o, n)() if o is not None and hasattr(o, n) else 0) for n in names}

    def evaluate(self, op):
        data, begin, end, strides = (t.data for t in op.inputs[:4])
        o = op.options
        if o["EllipsisMask"] or o["NewAxisMask"]:
            raise fail(op, "STRIDED_SLICE with ellipsis or new-axis masks is not supported")
        if not (len(begin) == len(end) == len(strides)) or 0 in [int(s) for s in strides]:
            raise fail(op, "begin, end and strides must have one non-zero stride per dimension")
        index = []
        for i in range(len(begin)):
            b = None if o["BeginMask"] >> i & 1 else int(begin[i])
            e = None if o["EndMask"] >> i & 1 else int(end[i])
            if o["Offset"] and e is not None and b is not None:
                e = b + e
            if o["ShrinkAxisMask"] >> i & 1:
                index.append(int(begin[i]))
            else:
                index.append(slice(b, e, int(strides[i])))
        return np.asarray(data[tuple(index)])


class Pack(_Folded):
    kinds = ("PACK",)

    def parse_options(self, o) -> dict:
        return {"axis": o.Axis() if o is not None else 0,
                "values_count": o.ValuesCount() if o is not None else 0}

    def evaluate(self, op):
        if op.options["values_count"] != len(op.inputs):
            raise fail(op, f"values_count {op.options['values_count']} but {len(op.inputs)} "
                           "inputs")
        return np.stack([t.data for t in op.inputs], axis=op.options["axis"])
