"""CONCATENATION of int8 tensors along any axis (inputs share the output's quantization)."""
from __future__ import annotations

import numpy as np

from .base import OpDef, expect_int8_activation, fail


class Concatenation(OpDef):
    kinds = ("CONCATENATION",)
    kernels = ("copy",)

    def parse_options(self, o) -> dict:
        return {"axis": o.Axis(), "activation": o.FusedActivationFunction()}

    def prepare(self, op) -> None:
        y = op.outputs[0]
        if not op.inputs or any(t is None for t in op.inputs) or len(op.outputs) != 1:
            raise fail(op, "expects one or more inputs and one output")
        expect_int8_activation(op, y, "output")
        rank = len(y.shape)
        if not -rank <= op.options["axis"] < rank:
            raise fail(op, f"axis {op.options['axis']} is out of range for rank {rank}")
        axis = op.options["axis"] % rank
        for t in op.inputs:
            expect_int8_activation(op, t, "input")
            if t.scale != y.scale or t.zero_point != y.zero_point:
                raise fail(op, f"input {t.name!r} is quantized differently from the output; "
                               "TFLite Micro requires equal quantization for CONCATENATION")
            if len(t.shape) != rank or any(t.shape[k] != y.shape[k] for k in range(rank)
                                           if k != axis):
                raise fail(op, f"input {list(t.shape)} does not fit output {list(y.shape)} "
                               f"along axis {axis}")
        if sum(t.shape[axis] for t in op.inputs) != y.shape[axis]:
            raise fail(op, "input sizes along the axis do not add up to the output")
        if op.options["activation"] != 0:  # TFLite Micro rejects any, even a no-op clamp
            raise fail(op, "a fused activation on CONCATENATION is not supported")
        outer = int(np.prod(y.shape[:axis], dtype=np.int64))
        inner = int(np.prod(y.shape[axis + 1:], dtype=np.int64))
        op.params.update(outer=outer, chunks=[t.shape[axis] * inner for t in op.inputs])

    def emit(self, op, c) -> str:
        chunks = c.const(np.array(op.params["chunks"], np.int32), op, "chunks")
        pointers = ", ".join(c.ptr(t) for t in op.inputs)
        return (f"{{ const int8_t *const in[] = {{ {pointers} }}; "
                f"tme_concat_s8({len(op.inputs)}, {op.params['outer']}, {chunks}, in, "
                f"{c.ptr(op.outputs[0])}); }}")
