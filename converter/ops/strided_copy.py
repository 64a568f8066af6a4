"""Operators that copy int8 bytes into a new order: TRANSPOSE, SLICE, SPACE_TO_DEPTH and
DEPTH_TO_SPACE, all one call of tme_strided_copy_s8 (tme_copy.h).

Each states its output as up to six axes in row-major order and, for each, the input stride
that axis steps by, from a base offset. TFLite Micro copies these bytes without reading their
quantization (it checks only that input and output are of one type), so neither does the
generated code.
"""
from __future__ import annotations

import numpy as np

from .base import OpDef, expect_dtype, expect_per_tensor, fail

#: the kernel's axes (an op's output may be split into more axes than its tensors have)
MAX_AXES = 6


def row_major_strides(dims) -> list[int]:
    return [int(np.prod(dims[k + 1:])) for k in range(len(dims))]


def const_ints(op, index: int, role: str, dtypes=("int32", "int64")) -> list[int]:
    """The values of constant input `index`, of one of `dtypes` (what TFLite Micro reads)."""
    t = op.inputs[index]
    if not t.is_const:
        raise fail(op, f"the {role} ({t.name!r}) must be a constant tensor")
    if t.dtype not in dtypes:
        raise fail(op, f"the {role} ({t.name!r}) is {t.dtype}; TFLite Micro's {op.kind} reads "
                       f"{' or '.join(dtypes)}")
    return [int(v) for v in np.asarray(t.data).reshape(-1)]


class StridedCopy(OpDef):
    kernels = ("copy",)
    #: the most dimensions of the input and output (TFLite Micro's TRANSPOSE and SLICE take 5)
    max_rank = 5

    def check(self, op, inputs: int):
        """(input, output): int8 tensors of up to six axes, `inputs` inputs in all."""
        if len(op.inputs) != inputs or any(t is None for t in op.inputs) or len(op.outputs) != 1:
            raise fail(op, f"expects {inputs} input tensors and 1 output")
        x, y = op.inputs[0], op.outputs[0]
        for t, role in ((x, "input"), (y, "output")):
            expect_dtype(op, t, "int8", role)
            expect_per_tensor(op, t, role)
            if len(t.shape) > self.max_rank:
                raise fail(op, f"{role} {list(t.shape)} has more than {self.max_rank} "
                               f"dimensions (supported: 1 to {self.max_rank})")
        if x.is_const:
            raise fail(op, f"its input {x.name!r} is a constant: fold it before converting")
        return x, y

    def set_copy(self, op, dims, in_stride, base: int = 0) -> None:
        """The output's axes (row-major) and the input stride of each, from `base`."""
        if int(np.prod(dims)) != op.outputs[0].size:
            raise fail(op, f"output {list(op.outputs[0].shape)} does not hold the "
                           f"{int(np.prod(dims))} values it copies")
        lead = MAX_AXES - len(dims)
        op.params.update(dims=[1] * lead + [int(d) for d in dims],
                         in_stride=[0] * lead + [int(s) for s in in_stride], base=int(base))

    def emit(self, op, c) -> str:
        params = c.params("tme_strided_params", op, op.params)
        return f"tme_strided_copy_s8(&{params}, {c.ptr(op.inputs[0])}, {c.ptr(op.outputs[0])});"
