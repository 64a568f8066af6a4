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
        return {"axis": o.Axis() if o is not None else 0}

    def evaluate(self, op):
        return np.stack([t.data for t in op.inputs], axis=op.options["axis"])
