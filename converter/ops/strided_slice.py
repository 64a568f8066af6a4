"""STRIDED_SLICE: folded at conversion time on constants (the static shape arithmetic of Keras 3's
Flatten), a strided copy of an int8 activation otherwise (a streaming model's window shift).

TFLite Micro (strided_slice.cc, strided_slice_logic.h): begin, end and strides are constant
vectors of one value per input dimension (up to 4 on activations); per axis, a set bit of begin_mask (end_mask)
takes the first (last) element in the direction of the stride; negative indices count from the
end; both are clamped to the axis ([0, size] for a positive stride, [-1, size - 1] for a
negative one); `offset` makes end relative to begin; a set bit of shrink_axis_mask takes the one
element at begin and drops the axis. Ellipsis and new-axis masks are refused. The bytes are
copied as they are (no requantization): one strided copy (strided_copy.py), a start and a
stride per axis.
"""
from __future__ import annotations

import numpy as np

from .base import fail
from .strided_copy import StridedCopy, row_major_strides


class StridedSlice(StridedCopy):
    kinds = ("STRIDED_SLICE",)
    memory_note = "its own buffer (folded on constants)"
    #: TFLite Micro's strided_slice_common.cc: "input dim should not exceed 4"
    max_rank = 4

    def parse_options(self, o) -> dict:
        names = ("BeginMask", "EndMask", "EllipsisMask", "NewAxisMask", "ShrinkAxisMask", "Offset")
        return {n: (getattr(o, n)() if o is not None and hasattr(o, n) else 0) for n in names}

    def axes(self, op) -> list[tuple[int, int, int, bool]]:
        """(start, count, stride, shrunk) per input dimension."""
        if len(op.inputs) != 4 or any(t is None for t in op.inputs) or len(op.outputs) != 1:
            raise fail(op, "expects 4 inputs (data, begin, end, strides) and 1 output")
        x, begin, end, strides = op.inputs
        for t, role in ((begin, "begin"), (end, "end"), (strides, "strides")):
            if not t.is_const:
                raise fail(op, f"its {role} input {t.name!r} must be a constant tensor")
        o = op.options
        if o["EllipsisMask"] or o["NewAxisMask"]:
            raise fail(op, "STRIDED_SLICE with ellipsis or new-axis masks is not supported")
        begin, end, strides = (np.asarray(t.data).reshape(-1) for t in (begin, end, strides))
        rank = len(x.shape)
        if not (len(begin) == len(end) == len(strides) == rank):
            raise fail(op, f"begin, end and strides must have one value per input dimension "
                           f"({rank}); they have {len(begin)}, {len(end)}, {len(strides)}")
        result = []
        for k, size in enumerate(x.shape):
            step = int(strides[k])
            if step == 0:
                raise fail(op, f"stride 0 along dimension {k}")
            if o["ShrinkAxisMask"] >> k & 1:
                start = int(begin[k]) + (size if begin[k] < 0 else 0)
                if not 0 <= start < size:
                    raise fail(op, f"begin {int(begin[k])} is outside dimension {k} of size "
                                   f"{size}")
                result.append((start, 1, 1, True))
                continue
            b = None if o["BeginMask"] >> k & 1 else int(begin[k])
            e = None if o["EndMask"] >> k & 1 else int(end[k])
            start, stop, step = slice(b, None, step).indices(size)[0], None, step
            if e is not None:
                e = start + e if o["Offset"] else e
                stop = slice(None, e, step).indices(size)[1]
            else:
                stop = size if step > 0 else -1
            result.append((start, len(range(start, stop, step)), step, False))
        return result

    def evaluate(self, op):  # constant data: folded (legalize.fold_constants)
        x = op.inputs[0]
        index = tuple(a[0] if a[3] else slice(a[0], a[0] + a[1] * a[2] if a[0] + a[1] * a[2] >= 0
                                              else None, a[2]) for a in self.axes(op))
        return np.asarray(x.data[index])

    def prepare(self, op) -> None:
        axes = self.axes(op)
        x, y = self.check(op, 4)
        shape = [a[1] for a in axes if not a[3]]
        if list(y.shape) != shape:
            raise fail(op, f"output shape {list(y.shape)} is not the slice's shape {shape}")
        strides = row_major_strides(list(x.shape))
        self.set_copy(op, [a[1] for a in axes], [a[2] * st for a, st in zip(axes, strides)],
                      sum(a[0] * st for a, st in zip(axes, strides)))
