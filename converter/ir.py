"""The graph IR: tensors with their quantization and constant data, operators, one graph.

Both front doors build it: the `.tflite` reader, and (later) the search space's architectures.
Passes rewrite it, the planner gives its activations offsets, the emitter writes it out as C.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: bytes per element of the dtypes that can live in the arena
DTYPE_BYTES = {"int8": 1, "uint8": 1, "int16": 2, "int32": 4, "float32": 4, "int64": 8, "bool": 1}


@dataclass(eq=False)
class Quant:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per channel (axis)."""

    scale: np.ndarray  # float32, one value per tensor or per channel
    zero_point: np.ndarray  # int64, same length as scale
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    @property
    def scale0(self) -> float:
        """The scale of a per-tensor quantization, as the float32 TFLite stores."""
        return float(self.scale[0])

    @property
    def zp0(self) -> int:
        return int(self.zero_point[0])


@dataclass(eq=False)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: Quant | None = None
    data: np.ndarray | None = None  # constant contents (weights, biases, shapes)
    #: a state variable's value at start-up and after reset (a resource variable that the
    #: model's CALL_ONCE subgraph initialises): such a tensor keeps its bytes between invokes,
    #: outside the arena
    initial: np.ndarray | None = None
    #: the Ring whose window this tensor is (passes/ring.py): its bytes sit in the ring's
    #: buffer at the ring's current position, not in the arena
    window_of: "Ring | None" = None

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def is_state(self) -> bool:
        """A state variable, or a window of one: bytes outside the arena, kept between invokes."""
        return self.initial is not None or self.window_of is not None

    @property
    def size(self) -> int:
        return int(math.prod(self.shape))  # (of no dimension: a scalar, 1)

    @property
    def nbytes(self) -> int:
        return self.size * DTYPE_BYTES[self.dtype]

    @property
    def scale(self) -> float:
        return self.quant.scale0

    @property
    def zero_point(self) -> int:
        return self.quant.zp0

    def __repr__(self):
        return f"Tensor#{self.index}({self.name!r}, {self.shape}, {self.dtype})"


@dataclass(eq=False)
class Ring:
    """A state variable kept as a ring buffer (passes/ring.py): its `keep` bytes sit at the
    current position of `buffer` (a state tensor of `capacity` bytes), each invoke appends its
    `step` new bytes behind them and reads the window of both in place; at the end of the
    invoke the position moves on by `step`, and only when the next window would pass the
    buffer's end are the kept bytes moved back to its start."""

    buffer: Tensor
    keep: int
    step: int
    number: int  # the ring's number in the model (names its position in the C code)

    @property
    def capacity(self) -> int:
        return self.buffer.nbytes


@dataclass(eq=False)
class Op:
    index: int  # position in the model's operator list (named in errors)
    kind: str  # builtin operator name, e.g. "CONV_2D"
    inputs: list[Tensor | None]
    outputs: list[Tensor]
    options: dict = field(default_factory=dict)
    #: values derived at conversion time (paddings, multipliers, ...) by the op's `prepare`
    params: dict = field(default_factory=dict)

    def __repr__(self):
        return f"Op#{self.index}({self.kind})"


@dataclass(eq=False)
class Graph:
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[Tensor]
    outputs: list[Tensor]
    source: str = "<graph>"  # the model file, for error messages
    description: str = ""
    #: inputs that never enter the arena: the caller streams them in, region by region, to
    #: the patch stage (passes/patch/)
    streamed: list[Tensor] = field(default_factory=list)
    #: state variables (`Tensor.is_state`): READ_VARIABLE copies one into the arena,
    #: ASSIGN_VARIABLE writes one; they live in their own buffer, never in the arena
    state: list[Tensor] = field(default_factory=list)
    #: the state variables kept as ring buffers (their buffers are in `state`)
    rings: list[Ring] = field(default_factory=list)

    def consumers(self, tensor: Tensor) -> list[Op]:
        return [op for op in self.ops if any(t is tensor for t in op.inputs)]

    def producer(self, tensor: Tensor) -> Op | None:
        for op in self.ops:
            if any(t is tensor for t in op.outputs):
                return op
        return None

    def activations(self) -> list[Tensor]:
        """Every tensor of the arena (neither constant nor state) that an op reads or writes, in
        first-use order."""
        seen, result = set(), []
        for t in self.inputs + [t for op in self.ops for t in op.inputs + op.outputs] + self.outputs:
            if t is not None and not t.is_const and not t.is_state and id(t) not in seen:
                seen.add(id(t))
                result.append(t)
        return result
