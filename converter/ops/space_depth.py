"""SPACE_TO_DEPTH and DEPTH_TO_SPACE on NHWC int8 tensors with a block size b, as TFLite
Micro's space_to_depth.cc and depth_to_space.cc:

- SPACE_TO_DEPTH: out[n, h, w, (by * b + bx) * C + c] = in[n, h * b + by, w * b + bx, c];
- DEPTH_TO_SPACE: out[n, h * b + by, w * b + bx, c] = in[n, h, w, (by * b + bx) * C + c].

Each is one strided copy whose output axes split the block into (by, bx) of their own.
"""
from __future__ import annotations

from .base import fail
from .strided_copy import StridedCopy


class SpaceToDepth(StridedCopy):
    kinds = ("SPACE_TO_DEPTH", "DEPTH_TO_SPACE")
    max_rank = 4

    def parse_options(self, o) -> dict:
        return {"block_size": o.BlockSize() if o is not None else 0}

    def prepare(self, op) -> None:
        x, y = self.check(op, 1)
        b = op.options["block_size"]
        if len(x.shape) != 4 or len(y.shape) != 4:
            raise fail(op, f"input {list(x.shape)} and output {list(y.shape)} must be 4-D NHWC")
        if b < 1:
            raise fail(op, f"block size {b} must be at least 1")
        n, h, w, c = x.shape
        if op.kind == "SPACE_TO_DEPTH":
            if h % b or w % b:
                raise fail(op, f"height {h} and width {w} must be multiples of the block size "
                               f"{b}")
            expected = [n, h // b, w // b, c * b * b]
            dims = [n, h // b, w // b, b, b, c]
            strides = [h * w * c, b * w * c, b * c, w * c, c, 1]
        else:
            if c % (b * b):
                raise fail(op, f"depth {c} must be a multiple of the block size squared "
                               f"({b * b})")
            out_c = c // (b * b)
            expected = [n, h * b, w * b, out_c]
            dims = [n, h, b, w, b, out_c]
            strides = [h * w * c, w * c, b * out_c, c, out_c, 1]
        if list(y.shape) != expected:
            raise fail(op, f"output {list(y.shape)} should be {expected} for block size {b}")
        self.set_copy(op, dims, strides)
