"""TRANSPOSE: the input's axes in the order of a constant permutation (TFLite Micro's
transpose.cc: up to five axes, the permutation int32, each axis 0 to rank - 1
once)."""
from __future__ import annotations

from .base import fail
from .strided_copy import StridedCopy, const_ints, row_major_strides


class Transpose(StridedCopy):
    kinds = ("TRANSPOSE",)

    def prepare(self, op) -> None:
        x, y = self.check(op, 2)
        perm = const_ints(op, 1, "permutation", ("int32",))
        rank = len(x.shape)
        if sorted(perm) != list(range(rank)):  # TFLM takes no negative axes here
            raise fail(op, f"permutation {perm} is not a permutation of the input's axes 0 to "
                           f"{rank - 1}")
        if list(y.shape) != [x.shape[p] for p in perm]:
            raise fail(op, f"output {list(y.shape)} is not the input {list(x.shape)} permuted "
                           f"by {perm}")
        strides = row_major_strides(list(x.shape))
        self.set_copy(op, [x.shape[p] for p in perm], [strides[p] for p in perm])
