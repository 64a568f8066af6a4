"""Operators that copy int8 elements chosen by index tables, one table per axis: MIRROR_PAD and
GATHER (with constant indices), one call of tme_gather_axes_s8 (tme_copy.h). The tables are
computed when converting; TFLite Micro copies the raw values without reading their
quantization, so neither does the generated code.
"""
from __future__ import annotations

import numpy as np

from .base import fail
from .strided_copy import StridedCopy, const_ints, row_major_strides


class GatherAxes(StridedCopy):
    max_rank = 4  # MIRROR_PAD: one table per axis of the kernel

    def set_tables(self, op, in_dims, out_dims, tables) -> None:
        """The input's and output's dims (both padded to 4-D), and a table of input indices
        for each output axis (None: the output index itself)."""
        for k, table in enumerate(tables):
            if table is not None and any(not 0 <= v < in_dims[k] for v in table):
                raise fail(op, f"indices {list(table)} reach outside the input's dimension "
                               f"{k} of size {in_dims[k]}")
        op.params.update(out_dims=list(out_dims), in_stride=row_major_strides(list(in_dims)),
                         tables=[None if t is None else [int(v) for v in t] for t in tables])

    def emit(self, op, c) -> str:
        p = op.params
        params = c.params("tme_gather_params", op, {"out_dims": p["out_dims"],
                                                    "in_stride": p["in_stride"]})
        tables = ", ".join("NULL" if t is None else c.const(np.asarray(t, np.int32), op,
                                                            f"axis{k}")
                           for k, t in enumerate(p["tables"]))
        return (f"tme_gather_axes_s8(&{params}, {tables}, {c.ptr(op.inputs[0])}, "
                f"{c.ptr(op.outputs[0])});")


def mirror_index(o: int, left: int, size: int, offset: int) -> int:
    """The input index of padded index `o`, as TFLite Micro's GetInputDimension (offset 1:
    REFLECT, the edge not repeated; 0: SYMMETRIC)."""
    if o < left:
        original = left + offset - 1
        return original - min(o, original - offset)
    o -= left
    if o >= size:
        o -= size
        original = size - (1 + offset)
        return original - min(o, original)
    return o


class MirrorPad(GatherAxes):
    kinds = ("MIRROR_PAD",)

    def parse_options(self, o) -> dict:
        return {"mode": o.Mode() if o is not None else 0}  # 0: REFLECT, 1: SYMMETRIC

    def prepare(self, op) -> None:
        x, y = self.check(op, 2)
        pads = const_ints(op, 1, "paddings")
        rank = len(x.shape)
        if len(pads) != 2 * rank or any(p < 0 for p in pads):
            raise fail(op, f"paddings {pads} must be [rank, 2] = [{rank}, 2] non-negative values")
        offset = 1 if op.options["mode"] == 0 else 0
        lead = 4 - rank
        in_dims = [1] * lead + list(x.shape)
        before = [0] * lead + pads[0::2]
        after = [0] * lead + pads[1::2]
        out_dims = [b + d + a for b, d, a in zip(before, in_dims, after)]
        if out_dims[lead:] != list(y.shape):
            raise fail(op, f"output {list(y.shape)} is not the input {list(x.shape)} padded by "
                           f"{pads}")
        limit = [d - offset for d in in_dims]  # REFLECT pads at most size - 1
        if any((b or a) and max(b, a) > m for b, a, m in zip(before, after, limit)):
            raise fail(op, f"paddings {pads} are larger than the input {list(x.shape)} allows "
                           f"in {'REFLECT' if offset else 'SYMMETRIC'} mode (at most the size"
                           f"{' - 1' if offset else ''} on each side)")
        tables = [None if not (b or a) else [mirror_index(o, b, d, offset) for o in range(n)]
                  for b, a, d, n in zip(before, after, in_dims, out_dims)]
        self.set_tables(op, in_dims, out_dims, tables)


class Gather(GatherAxes):
    kinds = ("GATHER",)
    max_rank = 6  # any shape: the kernel sees (outer, the gathered axis, inner)

    def parse_options(self, o) -> dict:
        return {"axis": o.Axis() if o is not None else 0,
                "batch_dims": o.BatchDims() if o is not None else 0}

    def prepare(self, op) -> None:
        x, y = self.check(op, 2)
        indices = const_ints(op, 1, "indices", ("int32",))
        rank = len(x.shape)
        axis = op.options["axis"]
        if op.options["batch_dims"] != 0:
            raise fail(op, f"batch_dims {op.options['batch_dims']} is not supported (0 only)")
        if not -rank <= axis < rank:
            raise fail(op, f"axis {axis} is out of range for the input {list(x.shape)}")
        axis %= rank
        expected = list(x.shape[:axis]) + list(op.inputs[1].shape) + list(x.shape[axis + 1:])
        if list(y.shape) != expected:
            raise fail(op, f"output {list(y.shape)} should be {expected}")
        outer = int(np.prod(x.shape[:axis]))
        inner = int(np.prod(x.shape[axis + 1:]))
        self.set_tables(op, [1, outer, x.shape[axis], inner],
                        [1, outer, len(indices), inner], [None, None, indices, None])
