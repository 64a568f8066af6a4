"""Resource variables: the state a streaming model keeps between invokes.

TFLite stores them as a second subgraph, run once through CALL_ONCE, that assigns each
variable its initial value (VAR_HANDLE + ASSIGN_VARIABLE of a constant), and in the main
subgraph VAR_HANDLE (a handle by container and shared name), READ_VARIABLE (copy the
variable's bytes out) and ASSIGN_VARIABLE (copy a tensor's bytes in). The reader
(converter/variables.py) resolves the handles: each variable becomes one state tensor
(`Tensor.is_state`, with its initial value), READ_VARIABLE reads it and ASSIGN_VARIABLE writes
it (its output), and VAR_HANDLE and CALL_ONCE leave the graph (the initial values are what
`<prefix>_reset()` restores, and the first invoke runs it).

TFLite Micro (read_variable.cc, assign_variable.cc, micro_resource_variable.cc): both copies
are raw memcpy of the variable's bytes, whatever the quantization of the tensors involved; an
assigned tensor must have the variable's size.
"""
from __future__ import annotations

from ..ir import DTYPE_BYTES
from .base import OpDef, fail

#: what a state variable may hold
STATE_DTYPES = ("int8",)


def expect_state_copy(op, state, tensor, role: str) -> None:
    """The state and the tensor copied to or from it have the same type and size."""
    if not state.is_state:
        raise fail(op, f"its {role} {state.name!r} is not a resource variable")
    if state.dtype not in STATE_DTYPES:
        raise fail(op, f"resource variable {state.name!r} is {state.dtype}; supported: "
                       f"{', '.join(STATE_DTYPES)} (quantize the variables too: TFLite converter "
                       "option _experimental_variable_quantization = True)")
    if tensor.dtype != state.dtype or tensor.size != state.size:
        raise fail(op, f"tensor {tensor.name!r} ({tensor.dtype}, shape {list(tensor.shape)}) "
                       f"does not match resource variable {state.name!r} ({state.dtype}, shape "
                       f"{list(state.shape)}); TFLite Micro copies the variable's bytes as they "
                       "are")


class _Resolved(OpDef):
    """Ops the reader resolves into state tensors; they never reach the passes."""

    resolved_by_reader = True
    memory_note = "resolved by the reader (state)"

    def prepare(self, op) -> None:  # (the reader removes them; a graph built otherwise)
        raise fail(op, f"{op.kind} must be resolved by the .tflite reader")


class VarHandle(_Resolved):
    kinds = ("VAR_HANDLE",)

    def parse_options(self, o) -> dict:
        def text(value):
            return value.decode("utf-8", "replace") if value else ""

        return {"container": text(o.Container()) if o is not None else "",
                "shared_name": text(o.SharedName()) if o is not None else ""}


class CallOnce(_Resolved):
    kinds = ("CALL_ONCE",)

    def parse_options(self, o) -> dict:
        return {"init_subgraph": o.InitSubgraphIndex() if o is not None else -1}


class ReadVariable(OpDef):
    kinds = ("READ_VARIABLE",)
    kernels = ("copy",)
    memory_note = "its own buffer (a copy of the state)"

    def prepare(self, op) -> None:
        if len(op.inputs) != 1 or op.inputs[0] is None or len(op.outputs) != 1:
            raise fail(op, "expects one resource variable input and one output")
        expect_state_copy(op, op.inputs[0], op.outputs[0], "input")

    def emit(self, op, c) -> str:
        y = op.outputs[0]
        return f"tme_copy_bytes({c.ptr(op.inputs[0])}, {c.ptr(y)}, {y.size * DTYPE_BYTES[y.dtype]}u);"


class AssignVariable(OpDef):
    kinds = ("ASSIGN_VARIABLE",)
    kernels = ("copy",)
    memory_note = "the state buffer"

    def prepare(self, op) -> None:
        if len(op.inputs) != 1 or op.inputs[0] is None or len(op.outputs) != 1:
            raise fail(op, "expects one value input and the resource variable it writes")
        expect_state_copy(op, op.outputs[0], op.inputs[0], "variable")

    def emit(self, op, c) -> str:
        x = op.inputs[0]
        return f"tme_copy_bytes({c.ptr(x)}, {c.ptr(op.outputs[0])}, {x.size * DTYPE_BYTES[x.dtype]}u);"
