"""SHAPE, PACK on static shapes: folded to constants at conversion time.

Keras 3's Flatten emits SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE even in int8 models; with
static shapes all of it is known when converting, so none of it reaches the generated code
(STRIDED_SLICE, which also runs on activations, folds the same way: strided_slice.py).
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
