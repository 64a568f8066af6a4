"""SLICE: a box of the input from constant begin indices, of constant sizes (-1: to the end),
as TFLite Micro's slice.cc (begin and size int32 or int64, one per input axis)."""
from __future__ import annotations

from .base import fail
from .strided_copy import StridedCopy, const_ints, row_major_strides


class Slice(StridedCopy):
    kinds = ("SLICE",)

    def prepare(self, op) -> None:
        x, y = self.check(op, 3)
        begin, size = const_ints(op, 1, "begin"), const_ints(op, 2, "size")
        rank = len(x.shape)
        if len(begin) != rank or len(size) != rank:
            raise fail(op, f"begin {begin} and size {size} need one value per input axis "
                           f"({rank})")
        size = [d - b if s == -1 else s for b, s, d in zip(begin, size, x.shape)]
        if any(b < 0 or s < 0 or b + s > d for b, s, d in zip(begin, size, x.shape)):
            raise fail(op, f"begin {begin} and size {size} reach outside the input "
                           f"{list(x.shape)}")
        if list(y.shape) != size:
            raise fail(op, f"output {list(y.shape)} is not the slice's size {size}")
        strides = row_major_strides(list(x.shape))
        self.set_copy(op, size, strides, sum(b * s for b, s in zip(begin, strides)))
